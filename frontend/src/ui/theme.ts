/**
 * The design tokens: one spacing scale, one type scale, one radius, and a
 * palette per colour scheme. Screens take them from `useTheme()` and never
 * write a colour or a size of their own, so light and dark stay consistent.
 */
import { useColorScheme } from "react-native";
import { create } from "zustand";
import { createJSONStorage, persist } from "zustand/middleware";

import { preferences } from "../platform/preferences";

export const space = { xs: 4, sm: 8, md: 12, lg: 16, xl: 24, xxl: 32 } as const;
export const radius = { sm: 6, md: 12, lg: 20, round: 999 } as const;
export const type = {
  caption: { fontSize: 12, lineHeight: 16 },
  body: { fontSize: 15, lineHeight: 21 },
  label: { fontSize: 15, lineHeight: 20, fontWeight: "600" },
  title: { fontSize: 20, lineHeight: 26, fontWeight: "700" },
  display: { fontSize: 28, lineHeight: 34, fontWeight: "800" },
} as const;

export interface Palette {
  background: string;
  surface: string;
  surfaceMuted: string;
  border: string;
  text: string;
  textMuted: string;
  primary: string;
  onPrimary: string;
  danger: string;
  success: string;
  live: string;
}

export const palettes: Record<"light" | "dark", Palette> = {
  light: {
    background: "#f6f7f9",
    surface: "#ffffff",
    surfaceMuted: "#eef0f3",
    border: "#dde1e6",
    text: "#111418",
    textMuted: "#5d6670",
    primary: "#5b4cf0",
    onPrimary: "#ffffff",
    danger: "#d93a3a",
    success: "#1f9d55",
    live: "#e5245e",
  },
  dark: {
    background: "#0e1014",
    surface: "#171a20",
    surfaceMuted: "#22262e",
    border: "#2c313a",
    text: "#eef1f5",
    textMuted: "#98a2ad",
    primary: "#8b7fff",
    onPrimary: "#0e1014",
    danger: "#ff6b6b",
    success: "#3ecf8e",
    live: "#ff4d82",
  },
};

export type SchemeChoice = "system" | "light" | "dark";

/** The user's choice of scheme (settings), kept on the device across restarts. */
export const useSchemeChoice = create<{ choice: SchemeChoice; set(choice: SchemeChoice): void }>()(
  persist((set) => ({ choice: "system", set: (choice) => set({ choice }) }), {
    name: "grover.scheme",
    storage: createJSONStorage(() => preferences),
    partialize: (state) => ({ choice: state.choice }),
  }),
);

export interface Theme {
  scheme: "light" | "dark";
  colors: Palette;
}

export function useTheme(): Theme {
  const system = useColorScheme();
  const choice = useSchemeChoice((s) => s.choice);
  const scheme = choice === "system" ? (system === "dark" ? "dark" : "light") : choice;
  return { scheme, colors: palettes[scheme] };
}
