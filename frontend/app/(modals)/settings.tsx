import { Stack } from "expo-router";
import { type ReactNode, useEffect, useState } from "react";
import { ActivityIndicator, ScrollView, View } from "react-native";
import { useStore } from "zustand";

import { type Segment, Segments, Toggle } from "../../src/ui/controls";
import { useGrover, useRuntime } from "../../src/runtime/grover";
import { NOTIFICATION_KINDS, type NotificationKind, notificationsPart } from "../../src/stores/notifications";
import { describe } from "../../src/ui/errors";
import { Button, Card, Divider, Row, Screen, Text } from "../../src/ui/kit";
import { type SchemeChoice, space, useSchemeChoice, useTheme } from "../../src/ui/theme";

const SCHEMES: readonly Segment<SchemeChoice>[] = [
  { value: "system", label: "System", testID: "theme-system" },
  { value: "light", label: "Light", testID: "theme-light" },
  { value: "dark", label: "Dark", testID: "theme-dark" },
];

const KIND_LABEL: Record<NotificationKind, string> = {
  follow: "New followers",
  like_post: "Likes on your posts",
  comment: "Comments on your posts",
  reply: "Replies to your comments",
  like_comment: "Likes on your comments",
  mention: "Mentions",
  stream_live: "Live streams starting",
  tip: "Tips",
  order: "Orders in your shop",
  payout: "Payouts",
};

function Section(props: { title: string; hint?: string; children: ReactNode }) {
  return (
    <View style={{ gap: space.sm }}>
      <Text variant="label" muted>
        {props.title.toUpperCase()}
      </Text>
      <Card style={{ gap: space.md }}>{props.children}</Card>
      {props.hint ? (
        <Text variant="caption" muted>
          {props.hint}
        </Text>
      ) : null}
    </View>
  );
}

function NotificationToggles() {
  const store = useGrover().part(notificationsPart);
  const { muted, settingsStatus, settingsError } = useStore(store);
  const { colors } = useTheme();
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    void store.getState().loadSettings();
  }, [store]);

  if (muted === null) {
    if (settingsStatus === "error") {
      return (
        <View style={{ gap: space.sm }}>
          <Text color={colors.danger}>{describe(settingsError)}</Text>
          <Button title="Try again" kind="secondary" small onPress={() => void store.getState().loadSettings()} />
        </View>
      );
    }
    return <ActivityIndicator color={colors.primary} />;
  }
  const toggle = (kind: NotificationKind, on: boolean) => {
    setProblem(null);
    store
      .getState()
      .setMuted(kind, !on)
      .catch((e: unknown) => setProblem(describe(e)));
  };
  return (
    <View style={{ gap: space.sm }}>
      {NOTIFICATION_KINDS.map((kind, i) => (
        <View key={kind} style={{ gap: space.sm }}>
          {i > 0 ? <Divider /> : null}
          <Row style={{ justifyContent: "space-between" }}>
            <Text>{KIND_LABEL[kind]}</Text>
            <Toggle
              testID={`notify-${kind}`}
              label={KIND_LABEL[kind]}
              value={!muted.includes(kind)}
              onChange={(on) => toggle(kind, on)}
            />
          </Row>
        </View>
      ))}
      {problem ? (
        <Text variant="caption" color={colors.danger}>
          {problem}
        </Text>
      ) : null}
    </View>
  );
}

function Account() {
  const user = useStore(useGrover().session, (s) => s.user);
  const { colors } = useTheme();
  const [busy, setBusy] = useState<"here" | "everywhere" | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const logout = (everywhere: boolean) => {
    setProblem(null);
    setBusy(everywhere ? "everywhere" : "here");
    // On success the runtime starts over and this screen goes away with the login.
    useRuntime
      .getState()
      .logout(everywhere)
      .catch((e: unknown) => {
        setProblem(describe(e));
        setBusy(null);
      });
  };
  return (
    <View style={{ gap: space.md }}>
      {user ? (
        <View>
          <Text variant="label">{user.display_name || user.username}</Text>
          <Text variant="caption" muted>
            @{user.username} · {user.email}
          </Text>
        </View>
      ) : null}
      <Button
        testID="logout"
        title="Log out"
        kind="secondary"
        busy={busy === "here"}
        disabled={busy !== null}
        onPress={() => logout(false)}
      />
      <Button
        testID="logout-everywhere"
        title="Log out everywhere"
        kind="danger"
        busy={busy === "everywhere"}
        disabled={busy !== null}
        onPress={() => logout(true)}
      />
      {problem ? (
        <Text variant="caption" color={colors.danger}>
          {problem}
        </Text>
      ) : null}
    </View>
  );
}

/** Appearance, which notifications to get, and logging out. */
export default function Settings() {
  const choice = useSchemeChoice((s) => s.choice);
  return (
    <Screen testID="settings-screen" edges={["bottom"]}>
      <Stack.Screen options={{ title: "Settings" }} />
      <ScrollView contentContainerStyle={{ padding: space.lg, gap: space.xl }}>
        <Section title="Appearance" hint="System follows your device's light or dark setting.">
          <Segments options={SCHEMES} value={choice} onChange={(next) => useSchemeChoice.getState().set(next)} />
        </Section>
        <Section title="Notifications" hint="Muted kinds are neither shown nor counted on the badge.">
          <NotificationToggles />
        </Section>
        <Section
          title="Account"
          hint="Log out everywhere signs this account out on every device, this one included."
        >
          <Account />
        </Section>
      </ScrollView>
    </Screen>
  );
}
