/**
 * Load what a screen shows when it opens (and again when `deps` change),
 * keeping the failure for its error state and a retry for its button.
 */
import { type DependencyList, useCallback, useEffect, useState } from "react";

export function useLoad(load: () => Promise<unknown>, deps: DependencyList): { error: unknown; retry: () => void } {
  const [error, setError] = useState<unknown>(null);
  // The caller's deps stand for `load`'s inputs, as with useEffect.
  const retry = useCallback(() => {
    setError(null);
    load().catch((e: unknown) => setError(e));
  }, deps);
  useEffect(retry, [retry]);
  return { error, retry };
}
