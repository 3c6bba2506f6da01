import { Stack, router, useLocalSearchParams } from "expo-router";
import { useCallback, useEffect, useState } from "react";
import { KeyboardAvoidingView, Platform, Pressable, View } from "react-native";
import { useStore } from "zustand";

import { LiveVideo } from "../../../src/components/LiveVideo";
import { LiveChat } from "../../../src/live/LiveChat";
import { LiveStats } from "../../../src/live/LiveRoom";
import type { StreamView } from "../../../src/protocol/types";
import { useGrover } from "../../../src/runtime/grover";
import { elapsedOf, formatElapsed, liveStore } from "../../../src/stores/live";
import { describe } from "../../../src/ui/errors";
import { Avatar, Button, Card, EmptyState, ErrorState, LoadingState, Row, Screen, Text } from "../../../src/ui/kit";
import { space, useTheme } from "../../../src/ui/theme";

/** Watch a stream: joined while open, left when closed. */
export default function WatchScreen() {
  const { id } = useLocalSearchParams<{ id: string }>();
  const grover = useGrover();
  const { colors } = useTheme();
  const live = grover.part(liveStore);
  const room = useStore(live, (s) => s.rooms[id]);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    setError(null);
    live
      .getState()
      .join(id)
      .catch((caught: unknown) => setError(describe(caught)));
    return () => void live.getState().leave(id);
  }, [live, id, attempt]);
  const retry = useCallback(() => setAttempt((n) => n + 1), []);

  let body;
  if (room === undefined) {
    body = error !== null ? <ErrorState message={error} onRetry={retry} /> : <LoadingState label="Joining…" />;
  } else if (room.banned) {
    body = <EmptyState title="You can't watch this stream" hint="The host removed you from it." />;
  } else if (room.stream.status === "scheduled") {
    body = (
      <EmptyState
        title="Not live yet"
        hint={
          room.stream.scheduled_time !== null
            ? `“${room.stream.title}” starts ${new Date(room.stream.scheduled_time * 1000).toLocaleString()}.`
            : `“${room.stream.title}” hasn't started.`
        }
      />
    );
  } else {
    const stream = room.stream;
    body = (
      <KeyboardAvoidingView style={{ flex: 1 }} behavior={Platform.OS === "ios" ? "padding" : undefined} keyboardVerticalOffset={64}>
        {stream.status === "live" ? (
          <View style={{ width: "100%", aspectRatio: 4 / 3, maxHeight: 360 }}>
            <LiveVideo stream={stream} token={room.token} role={room.role} videoEnabled={grover.config.live_video} />
            <LiveStats stream={stream} />
          </View>
        ) : (
          <Ended stream={stream} />
        )}
        <View style={{ padding: space.lg, gap: space.sm, borderBottomColor: colors.border, borderBottomWidth: 1 }}>
          <Text testID="stream-title" variant="title">
            {stream.title}
          </Text>
          <Host stream={stream} />
          {stream.description ? <Text muted>{stream.description}</Text> : null}
        </View>
        <LiveChat
          room={room}
          onSend={(text) => live.getState().send(id, text)}
          onRetry={(key) => void live.getState().retry(id, key).catch(() => undefined)}
          onDiscard={(key) => live.getState().discard(id, key)}
        />
      </KeyboardAvoidingView>
    );
  }

  return (
    <Screen edges={["bottom"]} testID="live-viewer">
      <Stack.Screen options={{ title: room?.stream.status === "live" ? "Live" : "Stream" }} />
      {body}
    </Screen>
  );
}

function Host(props: { stream: StreamView }) {
  const host = props.stream.host;
  const name = host.display_name || host.username;
  return (
    <Pressable testID="stream-host" accessibilityRole="link" onPress={() => router.push(`/user/${host.id}`)}>
      <Row>
        <Avatar name={name} uri={host.avatar_url} size={32} />
        <View style={{ flex: 1 }}>
          <Text variant="label">{name}</Text>
          <Text variant="caption" muted>
            @{host.username}
          </Text>
        </View>
      </Row>
    </Pressable>
  );
}

function Ended(props: { stream: StreamView }) {
  const { stream } = props;
  return (
    <View style={{ padding: space.lg }}>
      <Card testID="stream-ended" style={{ gap: space.sm }}>
        <Text variant="title">This stream has ended</Text>
        <Text muted>
          Live for {formatElapsed(elapsedOf(stream))} · {stream.unique_viewers} watched · peak {stream.peak_viewers}
        </Text>
        <Row>
          <Button small kind="secondary" title="Back" onPress={() => (router.canGoBack() ? router.back() : router.replace("/"))} />
        </Row>
      </Card>
    </View>
  );
}
