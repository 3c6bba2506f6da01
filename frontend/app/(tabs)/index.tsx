/**
 * Home: the feed of the people I follow and mine, newest first. New posts
 * arrive live on top; pull to refresh, more at the end. The posts on screen
 * are watched, so their likes and comment counts move live.
 */
import type { ViewToken } from "@shopify/flash-list";
import { router, useFocusEffect } from "expo-router";
import { useCallback, useEffect, useRef, useState } from "react";
import { View } from "react-native";
import { useStore } from "zustand";

import { LiveNowStrip } from "../../src/components/LiveNowStrip";
import { NotificationBell } from "../../src/components/NotificationBell";
import { PostFeed } from "../../src/components/PostFeed";
import type { PostView } from "../../src/protocol/types";
import { useGrover } from "../../src/runtime/grover";
import { feedOf } from "../../src/stores/feed";
import { postsOf } from "../../src/stores/posts";
import { describe } from "../../src/ui/errors";
import { Button, EmptyState, ErrorState, LoadingState, Row, Screen, Text } from "../../src/ui/kit";
import { space, useTheme } from "../../src/ui/theme";

/** Posts watched for live counts at most: the ones on screen. */
const WATCH_VISIBLE = 10;

export default function Home() {
  const grover = useGrover();
  const feed = grover.part(feedOf);
  const posts = grover.part(postsOf);
  const { ids, status, error, refreshing, loadingMore, cursor } = useStore(feed);
  const { colors } = useTheme();
  const [visible, setVisible] = useState<string[]>([]);

  useEffect(() => {
    void feed.getState().load().catch(() => undefined);
  }, [feed]);

  // Back on Home after following someone: their posts belong here now.
  useFocusEffect(
    useCallback(() => {
      if (feed.getState().stale) void feed.getState().refresh().catch(() => undefined);
    }, [feed]),
  );

  useEffect(() => posts.getState().watch(visible), [posts, visible]);

  const onViewable = useRef((info: { viewableItems: ViewToken<PostView>[] }) => {
    const next = info.viewableItems.flatMap((t) => (t.item ? [t.item.id] : [])).slice(0, WATCH_VISIBLE);
    setVisible((now) => (now.join() === next.join() ? now : next));
  }).current;

  // The first load has its own full-screen states; the list takes over after.
  let body;
  if (status === "idle" || (status === "loading" && ids.length === 0)) {
    body = <LoadingState label="Loading your feed…" />;
  } else if (status === "error" && ids.length === 0) {
    body = <ErrorState message={describe(error)} onRetry={() => void feed.getState().refresh().catch(() => undefined)} />;
  } else {
    body = (
      <PostFeed
        testID="feed-list"
        list={{ ids, status, error, refreshing, loadingMore, cursor }}
        header={
          <View style={{ paddingBottom: space.sm }}>
            <LiveNowStrip />
          </View>
        }
        empty={
          <EmptyState
            title="Your feed is empty"
            hint="Follow people to see their posts here, or share your first one."
            action={
              <Row>
                <Button title="Find people" kind="secondary" onPress={() => router.push("/search")} testID="feed-find-people" />
                <Button title="New post" onPress={() => router.push("/create")} testID="feed-new-post" />
              </Row>
            }
          />
        }
        end="You're all caught up."
        refresh={() => feed.getState().refresh()}
        loadMore={() => feed.getState().loadMore()}
        onViewableItemsChanged={onViewable}
        viewabilityConfig={{ itemVisiblePercentThreshold: 30 }}
        // Near the top, a post arriving live scrolls into view rather than above it.
        maintainVisibleContentPosition={{ autoscrollToTopThreshold: 120 }}
      />
    );
  }

  return (
    <Screen testID="home-screen">
      <Row
        style={{
          paddingHorizontal: space.lg,
          paddingVertical: space.sm,
          justifyContent: "space-between",
          borderBottomWidth: 1,
          borderBottomColor: colors.border,
          backgroundColor: colors.surface,
        }}
      >
        <Text variant="display" color={colors.primary} testID="home-title">
          Grover
        </Text>
        <NotificationBell />
      </Row>
      {body}
    </Screen>
  );
}
