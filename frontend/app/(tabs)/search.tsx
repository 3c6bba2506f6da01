import { FlashList } from "@shopify/flash-list";
import { router } from "expo-router";
import { useEffect } from "react";
import { Pressable, View } from "react-native";
import { useStore } from "zustand";

import { PostCard } from "../../src/components/PostCard";
import { UserCard } from "../../src/components/UserCard";
import { Chip, type Segment, Segments } from "../../src/ui/controls";
import { locate } from "../../src/components/discovery/locate";
import type { PostView, Suggestion, TagCount, UserProfile } from "../../src/protocol/types";
import { useGrover } from "../../src/runtime/grover";
import { LocationUnavailable, type SearchMode, type SearchStore, searchPart } from "../../src/stores/search";
import { describe } from "../../src/ui/errors";
import { Divider, EmptyState, ErrorState, LoadingState, Row, Screen, Text, TextField } from "../../src/ui/kit";
import { space, useTheme } from "../../src/ui/theme";

const MODES: readonly Segment<SearchMode>[] = [
  { value: "users", label: "Users", testID: "seg-users" },
  { value: "posts", label: "Posts", testID: "seg-posts" },
  { value: "tags", label: "Tags", testID: "seg-tags" },
  { value: "nearby", label: "Nearby", testID: "seg-nearby" },
];

const PLACEHOLDER: Record<SearchMode, string> = {
  users: "Search people by name",
  posts: "Search posts, or #tag",
  tags: "Search tags",
  nearby: "Type to search posts instead",
};

const RADII = [5, 25, 100] as const;

function errorWords(error: unknown): string {
  if (error instanceof LocationUnavailable) {
    return error.refused
      ? "Nearby needs your location. Allow location access for Grover, then try again."
      : "Your location isn't available right now. Check that location services are on, then try again.";
  }
  return describe(error);
}

function distanceText(km: number): string {
  if (km < 1) return `${Math.max(10, Math.round((km * 1000) / 10) * 10)} m away`;
  return `${km < 10 ? km.toFixed(1) : Math.round(km)} km away`;
}

function UserResult(props: { user: UserProfile; caption?: string; testID: string }) {
  return (
    <View testID={props.testID} style={{ paddingHorizontal: space.lg }}>
      <UserCard user={props.user} />
      {props.caption ? (
        <Text variant="caption" muted style={{ marginLeft: 44 + space.md, marginTop: -space.xs, marginBottom: space.sm }}>
          {props.caption}
        </Text>
      ) : null}
    </View>
  );
}

function PostResult(props: { post: PostView; distanceKm?: number }) {
  return (
    <View testID={`search-post-${props.post.id}`} style={{ paddingHorizontal: space.lg, paddingVertical: space.sm, gap: space.xs }}>
      {props.distanceKm !== undefined ? (
        <Text variant="caption" muted>
          {distanceText(props.distanceKm)}
          {props.post.location?.place_name ? ` · ${props.post.location.place_name}` : ""}
        </Text>
      ) : null}
      <PostCard post={props.post} onOpen={() => router.push(`/post/${props.post.id}`)} />
    </View>
  );
}

function TagResult(props: { tag: TagCount; onPress: () => void }) {
  return (
    <Pressable
      testID={`search-tag-${props.tag.tag}`}
      accessibilityRole="button"
      onPress={props.onPress}
      style={({ pressed }) => ({ paddingHorizontal: space.lg, paddingVertical: space.md, opacity: pressed ? 0.7 : 1 })}
    >
      <Text variant="label">#{props.tag.tag}</Text>
      <Text variant="caption" muted>
        {props.tag.post_count === 1 ? "1 post" : `${props.tag.post_count} posts`}
      </Text>
    </Pressable>
  );
}

function suggestionReason(s: Suggestion): string {
  if (s.reason === "popular" || s.followed_by.length === 0) return "Popular on Grover";
  const first = s.followed_by[0];
  const name = first ? first.display_name || first.username : "";
  const others = s.followed_by_count - 1;
  return others > 0 ? `Followed by ${name} and ${others} more` : `Followed by ${name}`;
}

/** The empty box: trending tags, then people to follow. */
function Discover(props: { store: SearchStore }) {
  const { store } = props;
  const { discoverStatus, discoverError, trending, suggestions } = useStore(store);
  useEffect(() => {
    if (store.getState().discoverStatus === "idle") void store.getState().loadDiscover();
  }, [store]);

  if (discoverStatus === "error") {
    return <ErrorState message={describe(discoverError)} onRetry={() => void store.getState().loadDiscover()} />;
  }
  if (discoverStatus !== "ready") return <LoadingState label="Finding what's popular…" />;
  const header = (
    <View style={{ gap: space.md, paddingTop: space.sm }}>
      <Text variant="title" style={{ paddingHorizontal: space.lg }}>
        Trending
      </Text>
      {trending.length === 0 ? (
        <Text muted style={{ paddingHorizontal: space.lg }}>
          Nothing is trending yet. Post something with a #tag!
        </Text>
      ) : (
        <View style={{ flexDirection: "row", flexWrap: "wrap", gap: space.sm, paddingHorizontal: space.lg }}>
          {trending.map((t) => (
            <Chip
              key={t.tag}
              testID={`trending-tag-${t.tag}`}
              label={`#${t.tag}`}
              onPress={() => store.getState().searchTag(t.tag)}
            />
          ))}
        </View>
      )}
      <Text variant="title" style={{ paddingHorizontal: space.lg, paddingTop: space.md }}>
        People to follow
      </Text>
      {suggestions.length === 0 ? (
        <Text muted style={{ paddingHorizontal: space.lg }}>
          No suggestions yet.
        </Text>
      ) : null}
    </View>
  );
  return (
    <FlashList
      testID="discover-list"
      data={suggestions}
      keyExtractor={(s) => s.user.id}
      ListHeaderComponent={header}
      renderItem={({ item }) => (
        <UserResult user={item.user} caption={suggestionReason(item)} testID={`suggested-user-${item.user.username}`} />
      )}
    />
  );
}

function Results(props: { store: SearchStore }) {
  const { store } = props;
  const s = useStore(store);
  const empty =
    s.mode === "users" ? s.users.length === 0 : s.mode === "tags" ? s.tags.length === 0 : s.posts.length === 0;

  if (s.status === "error") {
    const retry = () =>
      s.mode === "nearby" && s.place === null ? void store.getState().findNearby(locate) : store.getState().rerun();
    return <ErrorState message={errorWords(s.error)} onRetry={retry} />;
  }
  if (s.status === "idle") {
    return s.mode === "nearby" ? (
      <EmptyState title="Posts near you" hint="Grover asks for your location to find them." />
    ) : (
      <EmptyState title="Type something to search" />
    );
  }
  if (s.status === "loading" && empty) {
    return <LoadingState label={s.mode === "nearby" && s.place === null ? "Finding where you are…" : "Searching…"} />;
  }
  if (s.status === "ready" && empty) {
    const what = s.query.trim();
    const title = {
      users: `No one called “${what}”`,
      posts: `No posts match “${what}”`,
      tags: `No tags start with “${what.replace(/^#/, "")}”`,
      nearby: `No posts within ${s.radiusKm} km`,
    }[s.mode];
    const hint = s.mode === "nearby" ? "Try a wider radius." : "Check the spelling or try something shorter.";
    return <EmptyState title={title} hint={hint} />;
  }
  const more = () => void store.getState().loadMore();
  if (s.mode === "users") {
    return (
      <FlashList
        testID="search-results"
        data={s.users}
        keyExtractor={(u) => u.id}
        renderItem={({ item }) => <UserResult user={item} testID={`search-user-${item.username}`} />}
      />
    );
  }
  if (s.mode === "tags") {
    return (
      <FlashList
        testID="search-results"
        data={s.tags}
        keyExtractor={(t) => t.tag}
        ItemSeparatorComponent={Divider}
        onEndReached={more}
        renderItem={({ item }) => <TagResult tag={item} onPress={() => store.getState().searchTag(item.tag)} />}
      />
    );
  }
  return (
    <FlashList
      testID="search-results"
      data={s.posts}
      keyExtractor={(p) => p.id}
      onEndReached={more}
      ListFooterComponent={s.loadingMore ? <LoadingState /> : null}
      renderItem={({ item, index }) => (
        <PostResult post={item} distanceKm={s.mode === "nearby" ? s.distances[index] : undefined} />
      )}
    />
  );
}

/** Search people, posts and tags, or posts nearby; trends and suggestions while the box is empty. */
export default function Search() {
  const store = useGrover().part(searchPart);
  const { mode, query, status, radiusKm, place } = useStore(store);
  const { colors } = useTheme();

  const choose = (next: SearchMode) => {
    if (next === "nearby" && (place === null || status === "error")) void store.getState().findNearby(locate);
    else store.getState().setMode(next);
  };
  const showDiscover = mode !== "nearby" && status === "idle" && query.trim() === "";

  return (
    <Screen testID="search-screen">
      <View style={{ paddingHorizontal: space.lg, paddingTop: space.md, gap: space.md, paddingBottom: space.sm }}>
        <Text variant="display">Discover</Text>
        <TextField
          testID="search-input"
          value={query}
          onChangeText={(text) => store.getState().setQuery(text)}
          placeholder={PLACEHOLDER[mode]}
          autoCapitalize="none"
          autoCorrect={false}
          returnKeyType="search"
          maxLength={mode === "users" ? 64 : 256}
          accessibilityLabel="Search"
        />
        <Segments options={MODES} value={mode} onChange={choose} />
        {mode === "nearby" && place !== null ? (
          <Row>
            <Text variant="caption" muted>
              Within
            </Text>
            {RADII.map((km) => (
              <Chip
                key={km}
                testID={`radius-${km}`}
                label={`${km} km`}
                chosen={km === radiusKm}
                onPress={() => store.getState().setRadius(km)}
              />
            ))}
          </Row>
        ) : null}
      </View>
      <View style={{ flex: 1, borderTopWidth: 1, borderTopColor: colors.border }}>
        {showDiscover ? <Discover store={store} /> : <Results store={store} />}
      </View>
    </Screen>
  );
}
