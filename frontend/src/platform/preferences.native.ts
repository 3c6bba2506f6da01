/** iOS and Android: small preferences (the theme) through expo-secure-store, already a dependency. */
import * as SecureStore from "expo-secure-store";
import type { StateStorage } from "zustand/middleware";

export const preferences: StateStorage = {
  getItem: (name) => SecureStore.getItemAsync(name),
  setItem: (name, value) => SecureStore.setItemAsync(name, value),
  removeItem: (name) => SecureStore.deleteItemAsync(name),
};
