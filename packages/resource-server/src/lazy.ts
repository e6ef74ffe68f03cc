/**
 * A lazily started, shared promise that is forgotten when it fails: the next caller retries. Used for
 * discovery and key-set setup, where caching a failure forever would turn a blip into an outage.
 */
export function lazyRetrying<T>(start: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (!pending) {
      const attempt = start();
      pending = attempt;
      attempt.catch(() => {
        if (pending === attempt) pending = undefined;
      });
    }
    return pending;
  };
}
