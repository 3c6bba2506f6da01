/**
 * A post in a list: its author (to their page), text, photos (with their
 * BlurHash until loaded), likes and comments (to the post's page), and how
 * long ago. Counts and the like come from the posts store, so they stay live
 * wherever the card is shown; a post handed in by another list is put there.
 */
import { router } from "expo-router";
import { useEffect, useMemo, useState } from "react";
import { ActivityIndicator, Pressable, View } from "react-native";
import { useStore } from "zustand";

import type { PostView } from "../protocol/types";
import { useGrover } from "../runtime/grover";
import { type PostList, postsOf } from "../stores/posts";
import { describe } from "../ui/errors";
import { Avatar, Button, Card, LazyImage, Row, Text, ago } from "../ui/kit";
import { space, useTheme } from "../ui/theme";

/** A speech bubble drawn with views: no emoji font needed. */
function CommentGlyph(props: { color: string }) {
  return (
    <View style={{ width: 19, height: 18, justifyContent: "center" }}>
      <View style={{ width: 19, height: 14, borderRadius: 6, borderWidth: 2, borderColor: props.color }} />
      <View
        style={{
          position: "absolute",
          left: 4,
          bottom: 0,
          width: 0,
          height: 0,
          borderRightWidth: 6,
          borderTopWidth: 5,
          borderRightColor: "transparent",
          borderTopColor: props.color,
        }}
      />
    </View>
  );
}

/** The end of a list of posts: loading more, a failed page to retry, or the end. */
export function PostListFooter(props: { list: PostList; onRetry: () => void; end?: string }) {
  const { list } = props;
  const { colors } = useTheme();
  if (list.loadingMore) return <ActivityIndicator color={colors.primary} style={{ padding: space.lg }} />;
  if (list.error && list.ids.length > 0) {
    return (
      <View style={{ padding: space.lg, alignItems: "center", gap: space.sm }}>
        <Text variant="caption" color={colors.danger}>
          {describe(list.error)}
        </Text>
        <Button small kind="secondary" title="Try again" onPress={props.onRetry} />
      </View>
    );
  }
  if (list.cursor === null && list.ids.length > 0 && props.end) {
    return (
      <Text variant="caption" muted style={{ textAlign: "center", padding: space.lg }}>
        {props.end}
      </Text>
    );
  }
  return <View style={{ height: space.lg }} />;
}

/** The cached posts of a list's ids, in order (deleted ones left out). */
export function usePosts(ids: readonly string[]): PostView[] {
  const posts = useGrover().part(postsOf);
  const cache = useStore(posts, (s) => s.posts);
  return useMemo(() => ids.flatMap((id) => (cache[id] ? [cache[id]] : [])), [ids, cache]);
}

export function PostCard({ post, onOpen }: { post: PostView; onOpen?: () => void }) {
  const posts = useGrover().part(postsOf);
  const live = useStore(posts, (s) => s.posts[post.id]) ?? post;
  const { colors } = useTheme();
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    // A post from another list (search...): cached so likes and live counts reach it.
    if (posts.getState().posts[post.id] === undefined && !posts.getState().gone[post.id]) {
      posts.getState().take([post]);
    }
  }, [posts, post]);

  const open = onOpen ?? (() => router.push(`/post/${post.id}`));
  const author = live.author;
  const like = () => {
    setError(null);
    posts
      .getState()
      .toggleLike(post.id)
      .catch((e: unknown) => setError(describe(e)));
  };
  const photos = live.media_urls.filter((_, i) => live.media_types[i] !== "video");

  return (
    <Card testID="post-card" style={{ padding: 0, overflow: "hidden" }}>
      <Row style={{ padding: space.md, paddingBottom: space.sm }}>
        <Pressable
          testID="post-author"
          accessibilityRole="link"
          onPress={() => router.push(`/user/${author.id}`)}
          style={{ flexDirection: "row", alignItems: "center", gap: space.sm, flex: 1 }}
        >
          <Avatar name={author.display_name || author.username} uri={author.avatar_url || null} size={36} />
          <View style={{ flex: 1 }}>
            <Text variant="label" numberOfLines={1}>
              {author.display_name || author.username}
            </Text>
            <Text variant="caption" muted numberOfLines={1}>
              @{author.username}
            </Text>
          </View>
        </Pressable>
        <Text variant="caption" muted testID="post-time">
          {ago(live.created_at)}
          {live.edited_at !== null ? " · edited" : ""}
        </Text>
      </Row>

      {live.text.length > 0 ? (
        <Pressable onPress={open} style={{ paddingHorizontal: space.md, paddingBottom: space.sm }}>
          <Text testID="post-text">{live.text}</Text>
        </Pressable>
      ) : null}

      {photos.length > 0 ? (
        <Pressable onPress={open} style={{ flexDirection: "row", flexWrap: "wrap", gap: 2 }}>
          {photos.map((uri, i) => (
            <View key={uri} style={{ flexBasis: photos.length === 1 ? "100%" : "48%", flexGrow: 1 }}>
              <LazyImage
                testID={`post-photo-${i}`}
                uri={uri}
                // Parallel to media_urls; "" (or absent, from an older server) when unknown.
                blurhash={live.media_blurhashes?.[i] || null}
                // One photo wide; two or four square; of three the last spans the row.
                aspectRatio={photos.length === 1 ? 4 / 3 : photos.length === 3 && i === 2 ? 2 : 1}
              />
            </View>
          ))}
        </Pressable>
      ) : null}

      <Row gap={space.lg} style={{ paddingHorizontal: space.md, paddingVertical: space.sm }}>
        <Pressable
          testID="post-like"
          accessibilityRole="button"
          accessibilityLabel={live.liked_by_me ? "Unlike" : "Like"}
          accessibilityState={{ selected: live.liked_by_me }}
          onPress={like}
          hitSlop={8}
          style={{ flexDirection: "row", alignItems: "center", gap: space.xs }}
        >
          <Text variant="title" color={live.liked_by_me ? colors.live : colors.textMuted}>
            {live.liked_by_me ? "♥" : "♡"}
          </Text>
          <Text variant="label" muted testID="post-like-count">
            {live.like_count}
          </Text>
        </Pressable>
        <Pressable
          testID="post-comments"
          accessibilityRole="button"
          accessibilityLabel="Comments"
          onPress={open}
          hitSlop={8}
          style={{ flexDirection: "row", alignItems: "center", gap: space.xs }}
        >
          <CommentGlyph color={colors.textMuted} />
          <Text variant="label" muted testID="post-comment-count">
            {live.comment_count}
          </Text>
        </Pressable>
        {live.tags.length > 0 ? (
          <Text variant="caption" muted numberOfLines={1} style={{ flex: 1, textAlign: "right" }}>
            {live.tags.map((t) => `#${t}`).join(" ")}
          </Text>
        ) : null}
      </Row>
      {error ? (
        <Text variant="caption" color={colors.danger} style={{ paddingHorizontal: space.md, paddingBottom: space.sm }}>
          {error}
        </Text>
      ) : null}
    </Card>
  );
}
