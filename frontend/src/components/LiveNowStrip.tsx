/**
 * Who is live now, as a row of avatars ringed in the live colour on the home
 * feed; a tap opens the stream. Nothing at all when nobody is live.
 *
 * Follows going live arrive as `stream.started`, but a stream ending reaches
 * only its viewers, so the list is also fetched again every half minute
 * while the strip is on screen: only while Home is the tab in view (the
 * tabs stay mounted behind each other).
 */
import { router, useFocusEffect } from "expo-router";
import { type ReactElement, useCallback } from "react";
import { Pressable, ScrollView, View } from "react-native";
import { useStore } from "zustand";

import { LivePill, viewersLabel } from "../live/LiveRoom";
import type { StreamView } from "../protocol/types";
import { useGrover } from "../runtime/grover";
import { liveStore } from "../stores/live";
import { Avatar, Text } from "../ui/kit";
import { space, useTheme } from "../ui/theme";

const REFRESH_MS = 30_000;
const AVATAR = 60;

function LiveNowItem(props: { stream: StreamView; mine: boolean }) {
  const { colors } = useTheme();
  const { stream } = props;
  const name = stream.host.display_name || stream.host.username;
  return (
    <Pressable
      testID={`live-now-${stream.id}`}
      accessibilityRole="button"
      accessibilityLabel={`${name} is live: ${stream.title}`}
      // My own stream opens where I host it.
      onPress={() => router.push(props.mine ? "/live/host" : `/live/${stream.id}`)}
      style={({ pressed }) => ({ width: AVATAR + space.xl, alignItems: "center", gap: space.xs, opacity: pressed ? 0.7 : 1 })}
    >
      <View style={{ alignItems: "center" }}>
        <View
          style={{
            padding: 3,
            borderRadius: AVATAR,
            borderWidth: 2,
            borderColor: colors.live,
          }}
        >
          <Avatar name={name} uri={stream.host.avatar_url} size={AVATAR - 10} />
        </View>
        <View style={{ marginTop: -space.sm }}>
          <LivePill live />
        </View>
      </View>
      <Text variant="caption" numberOfLines={1} style={{ fontWeight: "600" }}>
        {stream.title}
      </Text>
      <Text variant="caption" muted numberOfLines={1}>
        {viewersLabel(stream.viewer_count)}
      </Text>
    </Pressable>
  );
}

export function LiveNowStrip(): ReactElement | null {
  const grover = useGrover();
  const live = grover.part(liveStore);
  const streams = useStore(live, (s) => s.live);
  const me = useStore(grover.session, (s) => s.user?.id);
  useFocusEffect(
    useCallback(() => {
      const refresh = () => void live.getState().refreshLive().catch(() => undefined); // stale is fine here
      refresh();
      const timer = setInterval(refresh, REFRESH_MS);
      return () => clearInterval(timer);
    }, [live]),
  );
  if (streams.length === 0) return null;
  return (
    <View testID="live-now-strip" style={{ paddingVertical: space.md, gap: space.sm }}>
      <Text variant="label" style={{ paddingHorizontal: space.lg }}>
        Live now
      </Text>
      <ScrollView horizontal showsHorizontalScrollIndicator={false} contentContainerStyle={{ paddingHorizontal: space.md, gap: space.sm }}>
        {streams.map((stream) => (
          <LiveNowItem key={stream.id} stream={stream} mine={stream.host.id === me} />
        ))}
      </ScrollView>
    </View>
  );
}
