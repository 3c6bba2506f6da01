/** Web: the token in localStorage (the browser's store for a site's data). */
import type { TokenStorage } from "../stores/session";

const KEY = "grover.token";

export const tokenStorage: TokenStorage = {
  get: async () => globalThis.localStorage?.getItem(KEY) ?? null,
  set: async (token) => {
    if (token === null) globalThis.localStorage?.removeItem(KEY);
    else globalThis.localStorage?.setItem(KEY, token);
  },
};
