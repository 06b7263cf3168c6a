import { describe, expect, it } from 'vitest';
import { startSchedule } from '../agent/scheduler.ts';

describe('the schedule', () => {
  it('never overlaps cycles, and stopping waits for the running cycle to finish its step', async () => {
    let running = 0;
    let maxRunning = 0;
    let started = 0;
    let finished = 0;
    const skipped: string[] = [];
    const controller = new AbortController();
    const schedule = startSchedule({
      cron: '* * * * * *', // every second
      signal: controller.signal,
      onSkip: (reason) => skipped.push(reason),
      cycle: async () => {
        started += 1;
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 2_300)); // longer than the tick
        running -= 1;
        finished += 1;
      },
    });
    expect(schedule.nextRun()).toBeInstanceOf(Date);
    while (started < 2) await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    await schedule.done;
    expect(maxRunning).toBe(1);
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    expect(finished).toBe(started); // the cycle that was running when stopped completed
    const startedAtStop = started;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(started).toBe(startedAtStop); // and nothing runs after the stop
  }, 20_000);

  it('refuses an invalid cron expression', () => {
    expect(() =>
      startSchedule({ cron: '61 * * * *', cycle: async () => {}, signal: new AbortController().signal }),
    ).toThrow(/"61 \* \* \* \*" is not a valid cron expression/);
  });
});
