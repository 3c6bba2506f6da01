/** iOS and Android: the token in the keychain / keystore (expo-secure-store). */
import * as SecureStore from "expo-secure-store";

import type { TokenStorage } from "../stores/session";

const KEY = "grover.token";

export const tokenStorage: TokenStorage = {
  get: () => SecureStore.getItemAsync(KEY),
  set: async (token) => {
    if (token === null) await SecureStore.deleteItemAsync(KEY);
    else await SecureStore.setItemAsync(KEY, token);
  },
};
