/** Web: small preferences (the theme) in localStorage. */
import type { StateStorage } from "zustand/middleware";

export const preferences: StateStorage = {
  getItem: (name) => globalThis.localStorage?.getItem(name) ?? null,
  setItem: (name, value) => globalThis.localStorage?.setItem(name, value),
  removeItem: (name) => globalThis.localStorage?.removeItem(name),
};
