/**
 * A post and its threaded comments. The post is watched while the screen is
 * open, so comments (and their edits and deletions) and counts arrive live;
 * a reply shows under its parent, indented by depth.
 */
import { FlashList } from "@shopify/flash-list";
import { Stack, useLocalSearchParams } from "expo-router";
import { useEffect, useMemo, useState } from "react";
import { KeyboardAvoidingView, Platform, Pressable, View } from "react-native";
import { useStore } from "zustand";

import { CommentItem, indentOf } from "../../../src/components/CommentItem";
import { PostCard } from "../../../src/components/PostCard";
import type { CommentView } from "../../../src/protocol/types";
import { LIMITS } from "../../../src/protocol/types";
import { useGrover } from "../../../src/runtime/grover";
import { type ThreadRow, flattenThread, postsOf } from "../../../src/stores/posts";
import { describe } from "../../../src/ui/errors";
import { Button, EmptyState, ErrorState, LoadingState, Row, Screen, Text, TextField } from "../../../src/ui/kit";
import { space, useTheme } from "../../../src/ui/theme";

export default function PostScreen() {
  const params = useLocalSearchParams<{ id: string }>();
  const postId = String(params.id ?? "");
  const grover = useGrover();
  const posts = grover.part(postsOf);
  const me = useStore(grover.session, (s) => s.user?.id ?? null);
  const post = useStore(posts, (s) => s.posts[postId]);
  const gone = useStore(posts, (s) => s.gone[postId] === true);
  const thread = useStore(posts, (s) => s.threads[postId]);
  const rows = useMemo(() => (thread ? flattenThread(thread) : []), [thread]);
  const { colors } = useTheme();

  const [loadError, setLoadError] = useState<unknown>(null);
  const [text, setText] = useState("");
  const [replyTo, setReplyTo] = useState<CommentView | null>(null);
  const [sending, setSending] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  // Remounting the field with autoFocus focuses it (on Reply, or the comment count).
  const [focusTick, setFocusTick] = useState(0);
  const focusInput = () => setFocusTick((n) => n + 1);

  const load = () => {
    setLoadError(null);
    void posts.getState().fetch(postId).catch((error: unknown) => setLoadError(error));
    void posts.getState().loadComments(postId).catch(() => undefined);
  };

  useEffect(() => {
    if (!postId) return;
    const release = posts.getState().watch([postId]);
    load();
    return release;
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once per post
  }, [posts, postId]);

  const send = async () => {
    const body = text.trim();
    if (!body || sending) return;
    setSending(true);
    setActionError(null);
    try {
      await posts.getState().comment(postId, body, replyTo?.id ?? null);
      setText("");
      setReplyTo(null);
    } catch (error) {
      setActionError(describe(error));
    } finally {
      setSending(false);
    }
  };

  const act = (run: () => Promise<void>) => {
    setActionError(null);
    run().catch((error: unknown) => setActionError(describe(error)));
  };

  const reply = (comment: CommentView) => {
    setReplyTo(comment);
    focusInput();
  };

  const renderRow = ({ item }: { item: ThreadRow }) => {
    if (item.kind === "more") {
      const label =
        item.parentId === "" ? "Load more comments" : item.count > 0 ? `View ${item.count} more ${item.count === 1 ? "reply" : "replies"}` : "View more replies";
      return (
        <View style={{ paddingLeft: space.lg + indentOf(item.depth), paddingVertical: space.xs }}>
          <Pressable
            testID="comments-more"
            onPress={() => act(() => posts.getState().loadReplies(postId, item.parentId))}
            disabled={item.loading}
            accessibilityRole="button"
          >
            <Text variant="caption" color={colors.primary} style={{ fontWeight: "600" }}>
              {item.loading ? "Loading…" : `— ${label}`}
            </Text>
          </Pressable>
        </View>
      );
    }
    const { comment } = item;
    return (
      <CommentItem
        comment={comment}
        depth={item.depth}
        canDelete={comment.author.id === me || post?.author.id === me}
        onReply={() => reply(comment)}
        onLike={() => act(() => posts.getState().toggleCommentLike(postId, comment.id))}
        onDelete={() => act(() => posts.getState().deleteComment(postId, comment.id))}
      />
    );
  };

  let body;
  if (gone) {
    body = <EmptyState title="This post is gone" hint="Its author deleted it, or it's no longer visible to you." />;
  } else if (post === undefined && loadError !== null) {
    body = <ErrorState message={describe(loadError)} onRetry={load} />;
  } else if (post === undefined) {
    body = <LoadingState />;
  } else {
    body = (
      <>
        <FlashList
          testID="comment-list"
          data={rows}
          keyExtractor={(row) => (row.kind === "comment" ? row.comment.id : `more:${row.parentId}`)}
          getItemType={(row) => row.kind}
          renderItem={renderRow}
          ListHeaderComponent={
            <View style={{ padding: space.md, gap: space.md }}>
              <PostCard post={post} onOpen={focusInput} />
              <Text variant="label" testID="comments-title">
                Comments
              </Text>
            </View>
          }
          ListEmptyComponent={
            thread?.status === "error" ? (
              <ErrorState message={describe(thread.error)} onRetry={load} />
            ) : thread?.status === "ready" ? (
              <Text muted style={{ textAlign: "center", padding: space.lg }} testID="comments-empty">
                No comments yet. Start the conversation.
              </Text>
            ) : (
              <LoadingState />
            )
          }
          ListFooterComponent={<View style={{ height: space.lg }} />}
        />
        <View style={{ borderTopWidth: 1, borderTopColor: colors.border, backgroundColor: colors.surface, padding: space.md, gap: space.xs }}>
          {replyTo ? (
            <Row style={{ justifyContent: "space-between" }}>
              <Text variant="caption" muted testID="replying-to">
                Replying to @{replyTo.author.username}
              </Text>
              <Pressable onPress={() => setReplyTo(null)} testID="reply-cancel" accessibilityRole="button">
                <Text variant="caption" color={colors.primary}>
                  Cancel
                </Text>
              </Pressable>
            </Row>
          ) : null}
          {actionError ? (
            <Text variant="caption" color={colors.danger} testID="comment-error">
              {actionError}
            </Text>
          ) : null}
          <Row>
            <View style={{ flex: 1 }}>
              <TextField
                key={focusTick}
                autoFocus={focusTick > 0}
                testID="comment-input"
                placeholder={replyTo ? "Write a reply…" : "Add a comment…"}
                value={text}
                onChangeText={setText}
                maxLength={LIMITS.COMMENT_TEXT_MAX}
                onSubmitEditing={() => void send()}
                submitBehavior="submit"
              />
            </View>
            <Button testID="comment-send" title="Send" busy={sending} disabled={text.trim().length === 0} onPress={() => void send()} />
          </Row>
        </View>
      </>
    );
  }

  return (
    <Screen edges={["bottom"]} testID="post-screen">
      <Stack.Screen options={{ title: post ? `${post.author.display_name || post.author.username}'s post` : "Post" }} />
      <KeyboardAvoidingView style={{ flex: 1 }} behavior={Platform.OS === "ios" ? "padding" : undefined} keyboardVerticalOffset={90}>
        {body}
      </KeyboardAvoidingView>
    </Screen>
  );
}
