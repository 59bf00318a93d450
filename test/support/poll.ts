/**
 * Polls until `probe` returns without throwing and its value passes `until`
 * (default: truthy), or fails with the last error after the deadline. Tests
 * wait for asynchronous effects this way, never with fixed sleeps.
 */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  options: { timeoutMs?: number; intervalMs?: number; until?: (value: T) => boolean; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const until = options.until ?? ((v: T) => Boolean(v));
  let last: unknown = undefined;
  for (;;) {
    try {
      const value = await probe();
      if (until(value)) return value;
      last = new Error(`condition not met; last value: ${JSON.stringify(value)?.slice(0, 500)}`);
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? last.message : String(last);
      throw new Error(`timed out after ${options.timeoutMs ?? 30_000} ms waiting for ${options.what ?? 'condition'}: ${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
