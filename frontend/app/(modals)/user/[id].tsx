/**
 * Another user's page: who they are, follow or unfollow (the counts follow),
 * message them, their shop and their posts. The route's id may be
 * `@username` (a deep link), resolved to the user with exactly that name.
 */
import { Stack, router, useLocalSearchParams } from "expo-router";
import { useEffect, useState } from "react";
import { View } from "react-native";
import { useStore } from "zustand";

import { MessageButton } from "../../../src/components/MessageButton";
import { PostFeed } from "../../../src/components/PostFeed";
import { ShopSection } from "../../../src/components/ShopSection";
import { ProfileHeader } from "../../../src/components/UserCard";
import { GroverError } from "../../../src/protocol/client";
import { useGrover } from "../../../src/runtime/grover";
import { emptyList } from "../../../src/stores/posts";
import { profilesOf, safeDecode } from "../../../src/stores/profiles";
import { describe } from "../../../src/ui/errors";
import { Button, EmptyState, ErrorState, LoadingState, Row, Screen, Text } from "../../../src/ui/kit";
import { space, useTheme } from "../../../src/ui/theme";

export default function UserScreen() {
  const params = useLocalSearchParams<{ id: string }>();
  const param = safeDecode(String(params.id ?? ""));
  const grover = useGrover();
  const profiles = grover.part(profilesOf);
  const me = useStore(grover.session, (s) => s.user?.id ?? null);
  const { colors } = useTheme();

  // undefined: resolving; null: no such user.
  const [userId, setUserId] = useState<string | null | undefined>(undefined);
  const [resolveError, setResolveError] = useState<unknown>(null);
  const [followError, setFollowError] = useState<string | null>(null);

  const user = useStore(profiles, (s) => (userId ? s.users[userId] : undefined));
  const loading = useStore(profiles, (s) => (userId ? s.loading[userId] : undefined));
  const busy = useStore(profiles, (s) => (userId ? s.following[userId] === true : false));
  const list = useStore(profiles, (s) => (userId ? s.posts[userId] : undefined)) ?? emptyList;

  const resolve = () => {
    setResolveError(null);
    setUserId(undefined);
    profiles
      .getState()
      .resolve(param)
      .then(setUserId, (error: unknown) => setResolveError(error));
  };
  useEffect(resolve, [profiles, param]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (!userId) return;
    void profiles.getState().load(userId).catch(() => undefined);
    void profiles.getState().loadPosts(userId).catch(() => undefined);
  }, [profiles, userId]);

  const toggleFollow = () => {
    if (!user) return;
    setFollowError(null);
    const state = profiles.getState();
    (user.i_follow ? state.unfollow(user.id) : state.follow(user.id)).catch((e: unknown) => setFollowError(describe(e)));
  };

  const title = user ? `@${user.username}` : param.startsWith("@") ? param : "Profile";
  let body;
  if (resolveError !== null) {
    body = <ErrorState message={describe(resolveError)} onRetry={resolve} />;
  } else if (userId === null || (loading?.status === "error" && isNotFound(loading.error))) {
    body = (
      <EmptyState
        title="No such user"
        hint={param.startsWith("@") ? `Nobody goes by ${param} here.` : "This account doesn't exist or isn't visible to you."}
        action={<Button kind="secondary" title="Search people" onPress={() => router.push("/search")} />}
      />
    );
  } else if (user === undefined && loading?.status === "error") {
    body = <ErrorState message={describe(loading.error)} onRetry={() => void profiles.getState().load(userId!).catch(() => undefined)} />;
  } else if (user === undefined || userId === undefined) {
    body = <LoadingState />;
  } else {
    const header = (
      <View style={{ paddingHorizontal: space.lg, gap: space.md, alignItems: "center" }}>
        <ProfileHeader
          user={user}
          badge={user.follows_me ? "Follows you" : null}
          actions={
            user.id === me ? (
              <Button small kind="secondary" title="Edit your profile" onPress={() => router.navigate("/profile")} />
            ) : (
              <Row gap={space.sm}>
                <Button
                  testID="follow-button"
                  title={user.i_follow ? "Following" : user.follows_me ? "Follow back" : "Follow"}
                  kind={user.i_follow ? "secondary" : "primary"}
                  busy={busy}
                  onPress={toggleFollow}
                />
                <MessageButton userId={user.id} />
              </Row>
            )
          }
        />
        {followError ? (
          <Text variant="caption" color={colors.danger} testID="follow-error">
            {followError}
          </Text>
        ) : null}
        <View style={{ width: "100%" }}>
          <ShopSection sellerId={user.id} />
        </View>
        <Text variant="label" style={{ alignSelf: "flex-start", paddingTop: space.sm }}>
          Posts
        </Text>
      </View>
    );
    body = (
      <PostFeed
        testID="user-posts"
        list={list}
        header={header}
        empty={<EmptyState title="No posts yet" hint={`When @${user.username} shares something, it shows up here.`} />}
        refresh={() => Promise.all([profiles.getState().load(user.id), profiles.getState().refreshPosts(user.id)])}
        loadMore={() => profiles.getState().loadMorePosts(user.id)}
      />
    );
  }

  return (
    <Screen edges={["bottom"]} testID="user-screen">
      <Stack.Screen options={{ title }} />
      {body}
    </Screen>
  );
}

function isNotFound(error: unknown): boolean {
  return error instanceof GroverError && error.code === "not_found";
}
