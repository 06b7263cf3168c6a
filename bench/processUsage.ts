/**
 * A module preloaded into a measured child process (`node --import USAGE_PRELOAD …`): at exit it writes its own
 * user and sys CPU (microseconds, getrusage RUSAGE_SELF) and peak RSS (KiB) as JSON to $BENCH_USAGE_FILE.
 */
export const USAGE_PRELOAD = `data:text/javascript,${encodeURIComponent(
  `import { writeSync, openSync } from 'node:fs';
   process.on('exit', () => {
     const u = process.resourceUsage();
     const fd = openSync(process.env.BENCH_USAGE_FILE, 'w');
     writeSync(fd, JSON.stringify({ user: u.userCPUTime, sys: u.systemCPUTime, rss: u.maxRSS }));
   });`,
)}`;
