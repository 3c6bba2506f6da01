/**
 * The running app's one Grover: where the server is, the one socket, and the
 * stores that live as long as a login does.
 *
 * Where the server is: the sidecar's base URL (the page's own origin on web,
 * where the sidecar serves the app; `EXPO_PUBLIC_GROVER_URL` otherwise, or
 * the dev server's host on port 8080 in Expo Go), and from it
 * `GET /app/config.json`, which names the gateway. Logging out makes a new
 * `Grover`, so every per-login store starts empty.
 */
import Constants from "expo-constants";
import { Platform } from "react-native";
import { create } from "zustand";

import { GroverClient } from "../protocol/client";
import { tokenStorage } from "../platform/tokenStorage";
import { createChatStore } from "../stores/chat";
import { createSessionStore } from "../stores/session";

export interface AppConfig {
  gateway_url: string;
  sidecar_url: string;
  payments: boolean;
  live_video: boolean;
  /** Where PayPal sends the buyer back (the native app's link). */
  checkout_return_url: string;
}

export class Grover {
  readonly client: GroverClient;
  readonly session: ReturnType<typeof createSessionStore>;
  readonly chat: ReturnType<typeof createChatStore>;
  private readonly parts = new Map<unknown, unknown>();

  constructor(readonly config: AppConfig) {
    this.client = new GroverClient({ url: config.gateway_url, clientName: `grover-app/${Platform.OS}` });
    this.session = createSessionStore(this.client, tokenStorage);
    this.chat = createChatStore(this.client, () => this.session.getState().user?.id ?? null);
  }

  /** This login's one instance of what `make` builds (a domain store). */
  part<T>(make: (grover: Grover) => T): T {
    if (!this.parts.has(make)) this.parts.set(make, make(this));
    return this.parts.get(make) as T;
  }

  /** An absolute URL on the sidecar (uploads, media). */
  sidecar(path: string): string {
    return new URL(path, this.config.sidecar_url).toString();
  }
}

export function sidecarBase(): string {
  const configured = process.env.EXPO_PUBLIC_GROVER_URL;
  if (configured) return configured;
  if (Platform.OS === "web" && typeof window !== "undefined") return window.location.origin;
  const host = Constants.expoConfig?.hostUri?.split(":")[0] ?? "127.0.0.1";
  return `http://${host}:8080`;
}

interface RuntimeState {
  status: "idle" | "loading" | "ready" | "error";
  error: string | null;
  grover: Grover | null;
  start(): Promise<void>;
  /** Log out (here or everywhere) and start again with a fresh Grover. */
  logout(everywhere?: boolean): Promise<void>;
}

async function boot(): Promise<Grover> {
  const response = await fetch(new URL("/app/config.json", sidecarBase()).toString());
  if (!response.ok) throw new Error(`config: HTTP ${response.status}`);
  const grover = new Grover((await response.json()) as AppConfig);
  watchForSignOut(grover);
  await grover.session.getState().start();
  return grover;
}

export const useRuntime = create<RuntimeState>((set, get) => ({
  status: "idle",
  error: null,
  grover: null,
  async start() {
    if (get().status === "loading") return;
    set({ status: "loading", error: null });
    try {
      set({ status: "ready", grover: await boot() });
    } catch (error) {
      set({ status: "error", error: (error as Error).message });
    }
  },
  async logout(everywhere = false) {
    const old = get().grover;
    if (old === null) return;
    await old.session.getState().logout(everywhere);
    old.client.close();
    set({ grover: null, status: "idle" });
    await get().start();
  },
}));

/** Logged out elsewhere (4003) or suspended (4004): forget the token and start over. */
const SIGNED_OUT = new Set([4003, 4004]);

function watchForSignOut(grover: Grover): void {
  grover.client.onState((state) => {
    if (state !== "closed" || !SIGNED_OUT.has(grover.client.closeCode ?? 0)) return;
    if (useRuntime.getState().grover !== grover) return;
    void tokenStorage.set(null).then(() => {
      useRuntime.setState({ grover: null, status: "idle" });
      return useRuntime.getState().start();
    });
  });
}

/** The current Grover; screens render only once it is ready. */
export function useGrover(): Grover {
  const grover = useRuntime((s) => s.grover);
  if (grover === null) throw new Error("useGrover before the runtime is ready");
  return grover;
}
