/**
 * Waits until `ready()` holds, checking every 50 ms, or fails at once if the process exits first (with its
 * output). There is no wall-clock deadline here: the test's own timeout bounds the wait, so a busy machine
 * waits longer instead of failing.
 */
export async function untilReady(
  ready: () => boolean,
  process: { exited: Promise<number | null>; output: () => string },
  what: string,
): Promise<void> {
  let exit: { code: number | null } | undefined;
  void process.exited.then((code) => {
    exit = { code };
  });
  while (!ready()) {
    if (exit) throw new Error(`${what}: the process exited (code ${exit.code}) first:\n${process.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
