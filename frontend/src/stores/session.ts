/**
 * Who is logged in, and the connection's state: the session store.
 *
 * The token is kept through a `TokenStorage` (expo-secure-store on native,
 * localStorage on web, memory in tests) so the next launch resumes logged in;
 * the client itself keeps it for the `hello` that resumes after a drop.
 */
import { createStore } from "zustand/vanilla";

import { type ConnectionState, GroverClient, GroverError } from "../protocol/client";
import type { Me } from "../protocol/types";

export interface TokenStorage {
  get(): Promise<string | null>;
  set(token: string | null): Promise<void>;
}

export function memoryTokenStorage(initial: string | null = null): TokenStorage {
  let token = initial;
  return {
    get: async () => token,
    set: async (value) => {
      token = value;
    },
  };
}

export interface SessionState {
  connection: ConnectionState;
  user: Me | null;
  /** The last failure's error code (`invalid_credentials`...), for the screen to word. */
  error: string | null;
  busy: boolean;
  start(): Promise<void>;
  register(username: string, email: string, password: string): Promise<void>;
  login(login: string, password: string): Promise<void>;
  logout(everywhere?: boolean): Promise<void>;
}

export function createSessionStore(client: GroverClient, storage: TokenStorage) {
  const store = createStore<SessionState>()((set) => {
    async function authenticate(run: () => Promise<{ token: string; user: Me }>): Promise<void> {
      set({ busy: true, error: null });
      try {
        const auth = await run();
        await storage.set(auth.token);
        set({ user: auth.user, busy: false });
      } catch (error) {
        set({ busy: false, error: error instanceof GroverError ? error.code : "connection_lost" });
        throw error;
      }
    }

    return {
      connection: client.state,
      user: null,
      error: null,
      busy: false,
      async start() {
        client.token = await storage.get();
        const welcome = await client.connect();
        if (welcome.user === null && client.token !== null) await storage.set(null); // it expired
        set({ user: welcome.user });
      },
      register: (username, email, password) =>
        authenticate(() => client.request("auth.register", { username, email, password })),
      login: (login, password) => authenticate(() => client.request("auth.login", { login, password })),
      async logout(everywhere = false) {
        if (everywhere) await client.request("auth.logout_all", {});
        else await client.request("auth.logout", {});
        await storage.set(null);
        set({ user: null });
      },
    };
  });
  client.onState((connection) => store.setState({ connection }));
  // Who is logged in lives here: an edit of my profile from another session
  // reaches every screen through it, whichever stores exist.
  client.onEvent((event) => {
    if (event.type === "profile.updated" && event.user.id === store.getState().user?.id) {
      store.setState({ user: event.user });
    }
  });
  return store;
}
