/**
 * Runs `task` every `intervalSeconds`, never two at once: the next run is scheduled when one
 * ends. A failed run (a database restarting, say) is logged and retried at the next tick. The
 * timer is unref'd, so it never keeps the process alive.
 */
export function startPeriodicTask(options: {
  intervalSeconds: number;
  task: () => Promise<void>;
  onError: (error: unknown) => void;
}): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(run, options.intervalSeconds * 1000);
    timer.unref();
  };
  async function run() {
    try {
      await options.task();
    } catch (error) {
      options.onError(error);
    }
    schedule();
  }
  schedule();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
