import { Stack, router } from "expo-router";
import { useEffect, useState } from "react";
import { KeyboardAvoidingView, Platform, Share, View } from "react-native";
import { useStore } from "zustand";

import { LiveVideo } from "../../../src/components/LiveVideo";
import { LiveChat } from "../../../src/live/LiveChat";
import { LiveStats } from "../../../src/live/LiveRoom";
import type { StreamView } from "../../../src/protocol/types";
import { useGrover } from "../../../src/runtime/grover";
import { elapsedOf, formatElapsed, liveStore } from "../../../src/stores/live";
import { describe } from "../../../src/ui/errors";
import { Button, Card, LoadingState, Row, Screen, Text, TextField } from "../../../src/ui/kit";
import { space, useTheme } from "../../../src/ui/theme";

/**
 * Go live: a title, then the live view (video or its panel, the stream's
 * state, chat, end). Leaving this screen while live takes the host's
 * presence away: the stream ends by itself a minute later unless the host
 * comes back here, which offers to carry on.
 */
export default function HostScreen() {
  const grover = useGrover();
  const { colors } = useTheme();
  const live = grover.part(liveStore);
  const [streamId, setStreamId] = useState<string | null>(null);
  const room = useStore(live, (s) => (streamId === null ? undefined : s.rooms[streamId]));
  // A stream of mine still live (this screen left, or another device): null when none.
  const [mine, setMine] = useState<StreamView | null | undefined>(undefined);
  const [title, setTitle] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let active = true;
    live
      .getState()
      .findMine()
      .then(
        (found) => active && setMine(found),
        () => active && setMine(null), // starting will say what is wrong
      );
    return () => {
      active = false;
    };
  }, [live]);

  // Leaving the screen leaves the stream (it ends after the grace period).
  useEffect(() => {
    if (streamId === null) return;
    return () => void live.getState().leave(streamId);
  }, [live, streamId]);

  const run = async (action: () => Promise<string | null>) => {
    setBusy(true);
    setError(null);
    try {
      const id = await action();
      if (id !== null) setStreamId(id);
    } catch (caught) {
      setError(describe(caught));
    } finally {
      setBusy(false);
    }
  };
  const goLive = () => void run(async () => (await live.getState().start(title.trim())).stream.id);
  const carryOn = (id: string) => void run(async () => (await live.getState().join(id)).stream.id);
  const endOld = (id: string) =>
    void run(async () => {
      await live.getState().end(id);
      setMine(null);
      return null;
    });

  if (streamId !== null && room !== undefined) {
    return room.stream.status === "ended" ? (
      <Ended stream={room.stream} onAgain={() => (setStreamId(null), setTitle(""))} />
    ) : (
      <Hosting streamId={streamId} />
    );
  }

  return (
    <Screen edges={["bottom"]}>
      <Stack.Screen options={{ title: "Go live" }} />
      {mine === undefined ? (
        <LoadingState />
      ) : (
        <View style={{ flex: 1, padding: space.lg, gap: space.lg, maxWidth: 520, width: "100%", alignSelf: "center" }}>
          {mine !== null ? (
            <Card testID="still-live" style={{ gap: space.md }}>
              <Text variant="label">You're still live: “{mine.title}”</Text>
              <Text muted>It ends by itself a minute after you leave it. Carry on, or end it to start another.</Text>
              <Row>
                <Button testID="resume-stream" title="Carry on" busy={busy} onPress={() => carryOn(mine.id)} />
                <Button title="End it" kind="secondary" disabled={busy} onPress={() => endOld(mine.id)} />
              </Row>
            </Card>
          ) : (
            <>
              <Text variant="display">Go live</Text>
              <Text muted>Your followers hear that you're live. Viewers watch and chat with you as it happens.</Text>
              <TextField
                testID="live-title"
                label="Title"
                placeholder="What's happening?"
                maxLength={100}
                value={title}
                onChangeText={setTitle}
                onSubmitEditing={() => title.trim() && goLive()}
              />
              <Button testID="go-live" title="Go live" busy={busy} disabled={title.trim() === ""} onPress={goLive} />
            </>
          )}
          {error ? (
            <Text testID="host-error" color={colors.danger}>
              {error}
            </Text>
          ) : null}
        </View>
      )}
    </Screen>
  );
}

function Hosting(props: { streamId: string }) {
  const grover = useGrover();
  const { colors } = useTheme();
  const live = grover.part(liveStore);
  const room = useStore(live, (s) => s.rooms[props.streamId]);
  const [ending, setEnding] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (room === undefined) return null;
  const path = `/live/${room.stream.id}`;
  const link = Platform.OS === "web" && typeof window !== "undefined" ? window.location.origin + path : `grover:/${path}`;
  const act = (action: () => Promise<void>) => {
    setError(null);
    action().catch((caught: unknown) => setError(describe(caught)));
  };
  const end = () => {
    setEnding(true);
    act(() => live.getState().end(room.stream.id).finally(() => setEnding(false)));
  };

  return (
    <Screen edges={["bottom"]} testID="live-host">
      <Stack.Screen options={{ title: "You're live" }} />
      <KeyboardAvoidingView style={{ flex: 1 }} behavior={Platform.OS === "ios" ? "padding" : undefined} keyboardVerticalOffset={64}>
        <View style={{ width: "100%", aspectRatio: 4 / 3, maxHeight: 360 }}>
          <LiveVideo stream={room.stream} token={room.token} role="host" videoEnabled={grover.config.live_video} />
          <LiveStats stream={room.stream} />
        </View>
        <View style={{ padding: space.lg, gap: space.sm, borderBottomColor: colors.border, borderBottomWidth: 1 }}>
          <Row style={{ justifyContent: "space-between" }}>
            <Text variant="title" numberOfLines={1} style={{ flex: 1 }}>
              {room.stream.title}
            </Text>
            <Button testID="end-stream" title="End stream" kind="danger" small busy={ending} onPress={end} />
          </Row>
          <Row>
            <Text variant="caption" muted>
              Share
            </Text>
            <Text testID="stream-link" variant="caption" numberOfLines={1} style={{ flex: 1 }}>
              {path}
            </Text>
            {Platform.OS !== "web" ? (
              <Button small kind="ghost" title="Share" onPress={() => void Share.share({ message: link }).catch(() => undefined)} />
            ) : null}
          </Row>
          {error ? (
            <Text variant="caption" color={colors.danger}>
              {error}
            </Text>
          ) : null}
        </View>
        <LiveChat
          room={room}
          onSend={(text) => live.getState().send(room.stream.id, text)}
          onRetry={(key) => void live.getState().retry(room.stream.id, key).catch(() => undefined)}
          onDiscard={(key) => live.getState().discard(room.stream.id, key)}
          moderation={{
            pin: (line) => act(() => live.getState().pin(room.stream.id, line.id)),
            remove: (line) => act(() => live.getState().ban(room.stream.id, line.author.id)),
          }}
        />
      </KeyboardAvoidingView>
    </Screen>
  );
}

function Ended(props: { stream: StreamView; onAgain: () => void }) {
  const { stream } = props;
  return (
    <Screen edges={["bottom"]}>
      <Stack.Screen options={{ title: "Stream ended" }} />
      <View style={{ flex: 1, padding: space.lg, gap: space.lg, maxWidth: 520, width: "100%", alignSelf: "center", justifyContent: "center" }}>
        <Card testID="host-ended" style={{ gap: space.md }}>
          <Text variant="title">Your stream has ended</Text>
          <Text muted>“{stream.title}”</Text>
          <Row gap={space.xl}>
            <Stat label="Live for" value={formatElapsed(elapsedOf(stream))} />
            <Stat label="Peak viewers" value={String(stream.peak_viewers)} />
            <Stat label="Watched" value={String(stream.unique_viewers)} />
          </Row>
        </Card>
        <Row>
          <Button title="Done" onPress={() => (router.canGoBack() ? router.back() : router.replace("/"))} />
          <Button title="Go live again" kind="secondary" onPress={props.onAgain} />
        </Row>
      </View>
    </Screen>
  );
}

function Stat(props: { label: string; value: string }) {
  return (
    <View>
      <Text variant="title">{props.value}</Text>
      <Text variant="caption" muted>
        {props.label}
      </Text>
    </View>
  );
}
