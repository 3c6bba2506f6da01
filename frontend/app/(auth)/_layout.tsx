import { Redirect, Stack } from "expo-router";
import { useStore } from "zustand";

import { useGrover } from "../../src/runtime/grover";

export default function AuthLayout() {
  const user = useStore(useGrover().session, (s) => s.user);
  if (user !== null) return <Redirect href="/" />;
  return <Stack screenOptions={{ headerShown: false }} />;
}
