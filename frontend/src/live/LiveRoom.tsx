/**
 * What the host's and the viewer's screens share: the stream's state over
 * its video (LIVE, time, viewers), the panel shown where there is no video,
 * and a line of chat (the list and its composer are in LiveChat.tsx).
 */
import { useEffect, useState } from "react";
import { Pressable, View } from "react-native";

import type { ChatLine, StreamView } from "../protocol/types";
import { elapsedOf, formatElapsed } from "../stores/live";
import { Avatar, Row, Text, money } from "../ui/kit";
import { radius, space, useTheme } from "../ui/theme";

/** The time in seconds, ticking every `everyMs` while mounted. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now() / 1000), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export function viewersLabel(count: number): string {
  return `${count} watching`;
}

/** A small "LIVE" (or "ENDED") pill. */
export function LivePill(props: { live: boolean }) {
  const { colors } = useTheme();
  return (
    <View
      style={{
        backgroundColor: props.live ? colors.live : colors.surfaceMuted,
        borderRadius: radius.sm,
        paddingHorizontal: space.sm,
        paddingVertical: 2,
      }}
    >
      <Text variant="caption" color={props.live ? "#fff" : colors.textMuted} style={{ fontWeight: "800", letterSpacing: 1 }}>
        {props.live ? "LIVE" : "ENDED"}
      </Text>
    </View>
  );
}

function Chip(props: { children: string; testID?: string }) {
  const { colors } = useTheme();
  return (
    <View
      style={{
        backgroundColor: colors.surface,
        borderColor: colors.border,
        borderWidth: 1,
        borderRadius: radius.sm,
        paddingHorizontal: space.sm,
        paddingVertical: 1,
      }}
    >
      <Text variant="caption" testID={props.testID}>
        {props.children}
      </Text>
    </View>
  );
}

/** LIVE, how long, how many watch: laid over the video's top corner. */
export function LiveStats(props: { stream: StreamView }) {
  const now = useNow();
  const live = props.stream.status === "live";
  return (
    <Row gap={space.xs} style={{ position: "absolute", top: space.sm, left: space.sm }}>
      <LivePill live={live} />
      <Chip testID="live-elapsed">{formatElapsed(elapsedOf(props.stream, now))}</Chip>
      {live ? <Chip testID="viewer-count">{viewersLabel(props.stream.viewer_count)}</Chip> : null}
    </Row>
  );
}

/** Where the video would be: the stream's state, and why there is no picture. */
export function StagePanel(props: { stream: StreamView; note: string }) {
  const { colors } = useTheme();
  const live = props.stream.status === "live";
  return (
    <View
      testID="live-stage"
      style={{
        flex: 1,
        alignItems: "center",
        justifyContent: "center",
        gap: space.sm,
        padding: space.xl,
        backgroundColor: colors.surfaceMuted,
      }}
    >
      <Avatar name={props.stream.host.display_name || props.stream.host.username} uri={props.stream.host.avatar_url} size={64} />
      <Text variant="label" style={{ textAlign: "center" }}>
        {live ? `${props.stream.host.display_name || props.stream.host.username} is live` : "Not live"}
      </Text>
      <Text testID="live-video-note" variant="caption" muted style={{ textAlign: "center", maxWidth: 320 }}>
        {props.note}
      </Text>
    </View>
  );
}

/** One line of chat: who said it, what, and a tip's amount when it is one. */
export function ChatRow(props: {
  line: ChatLine;
  hostId: string;
  onPress?: () => void;
  selected?: boolean;
  testID?: string;
}) {
  const { colors } = useTheme();
  const { line } = props;
  const name = line.author.display_name || line.author.username;
  const isHost = line.author.id === props.hostId;
  return (
    <Pressable
      testID={props.testID ?? "live-chat-line"}
      disabled={props.onPress === undefined}
      onPress={props.onPress}
      style={{
        flexDirection: "row",
        gap: space.sm,
        paddingHorizontal: space.lg,
        paddingVertical: space.xs + 2,
        backgroundColor: props.selected ? colors.surfaceMuted : line.tip ? colors.surface : "transparent",
        borderLeftWidth: line.tip ? 3 : 0,
        borderLeftColor: colors.live,
      }}
    >
      <Avatar name={name} uri={line.author.avatar_url} size={24} />
      <View style={{ flex: 1 }}>
        <Text>
          <Text variant="label" color={isHost ? colors.live : colors.text}>
            {name}
            {isHost ? " · host" : ""}
          </Text>
          {line.tip ? (
            <Text variant="label" color={colors.live}>{`  tipped ${money(line.tip.amount, line.tip.currency)}`}</Text>
          ) : null}
          <Text>{line.text ? `  ${line.text}` : ""}</Text>
        </Text>
      </View>
    </Pressable>
  );
}
