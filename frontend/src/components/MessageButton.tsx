/**
 * "Message" on someone's profile: opens the direct conversation with them
 * (created on first use; the server keeps one per pair) and goes to it.
 */
import { router } from "expo-router";
import { useState } from "react";
import { View } from "react-native";
import { useStore } from "zustand";

import { useGrover } from "../runtime/grover";
import { describe } from "../ui/errors";
import { Button, Text } from "../ui/kit";
import { space, useTheme } from "../ui/theme";

export function MessageButton({ userId }: { userId: string }) {
  const grover = useGrover();
  const me = useStore(grover.session, (s) => s.user?.id ?? null);
  const { colors } = useTheme();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (me === null || userId === me) return null; // no conversation with oneself

  const open = async () => {
    setBusy(true);
    setError(null);
    try {
      const id = await grover.chat.getState().openDirect(userId);
      router.push("/conversation/" + id);
    } catch (problem) {
      setError(describe(problem));
    } finally {
      setBusy(false);
    }
  };

  return (
    <View style={{ gap: space.xs }}>
      <Button testID="message-button" title="Message" kind="secondary" small busy={busy} onPress={() => void open()} />
      {error !== null ? (
        <Text testID="message-button-error" variant="caption" color={colors.danger}>
          {error}
        </Text>
      ) : null}
    </View>
  );
}
