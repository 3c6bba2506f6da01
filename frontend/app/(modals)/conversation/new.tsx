import { FlashList } from "@shopify/flash-list";
import { Stack, router } from "expo-router";
import { useEffect, useState } from "react";
import { Pressable, View } from "react-native";
import { useStore } from "zustand";

import type { UserProfile } from "../../../src/protocol/types";
import { useGrover } from "../../../src/runtime/grover";
import { personName } from "../../../src/stores/chat";
import { describe } from "../../../src/ui/errors";
import {
  Avatar,
  Button,
  Divider,
  EmptyState,
  ErrorState,
  LoadingState,
  Row,
  Screen,
  Text,
  TextField,
} from "../../../src/ui/kit";
import { radius, space, useTheme } from "../../../src/ui/theme";

/** How long typing pauses before the search goes out. */
const SEARCH_DELAY_MS = 250;

type Mode = "direct" | "group";

/** Start a chat: find people by username, then one → a direct chat, several and a name → a group. */
export default function NewConversation() {
  const chat = useGrover().chat;
  const { colors } = useTheme();
  const people = useStore(chat, (s) => s.people);
  const [mode, setMode] = useState<Mode>("direct");
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<UserProfile[] | null>(null);
  const [searching, setSearching] = useState(false);
  const [searchError, setSearchError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [selected, setSelected] = useState<string[]>([]);
  const [name, setName] = useState("");
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  // Debounced: one search once typing pauses; a stale answer is dropped.
  useEffect(() => {
    const text = query.trim();
    if (text === "") {
      setResults(null);
      setSearching(false);
      setSearchError(null);
      return;
    }
    let current = true;
    setSearching(true);
    const timer = setTimeout(() => {
      chat
        .getState()
        .searchUsers(text)
        .then((users) => {
          if (!current) return;
          setResults(users);
          setSearchError(null);
        })
        .catch((problem: unknown) => {
          if (current) setSearchError(describe(problem));
        })
        .finally(() => {
          if (current) setSearching(false);
        });
    }, SEARCH_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [chat, query, attempt]);

  const openDirect = async (user: UserProfile) => {
    setBusy(user.id);
    setError(null);
    try {
      const id = await chat.getState().openDirect(user.id);
      router.replace("/conversation/" + id);
    } catch (problem) {
      setError(describe(problem));
      setBusy(null);
    }
  };

  const createGroup = async () => {
    setBusy("group");
    setError(null);
    try {
      const id = await chat.getState().createGroup(name, selected);
      router.replace("/conversation/" + id);
    } catch (problem) {
      setError(describe(problem));
      setBusy(null);
    }
  };

  const pick = (user: UserProfile) => {
    if (mode === "direct") {
      void openDirect(user);
      return;
    }
    setSelected((now) => (now.includes(user.id) ? now.filter((id) => id !== user.id) : [...now, user.id]));
  };

  let resultsView;
  if (query.trim() === "") {
    resultsView = (
      <EmptyState
        title={mode === "direct" ? "Who do you want to talk to?" : "Who's in the group?"}
        hint="Search people by their username."
      />
    );
  } else if (searchError !== null) {
    resultsView = <ErrorState message={searchError} onRetry={() => setAttempt((n) => n + 1)} />;
  } else if (results === null) {
    resultsView = <LoadingState label="Searching…" />;
  } else if (results.length === 0 && !searching) {
    resultsView = <EmptyState title="No one found" hint={`Nobody's username starts with "${query.trim()}".`} />;
  } else {
    resultsView = (
      <FlashList
        testID="user-results"
        data={results}
        keyExtractor={(u) => u.id}
        extraData={{ selected, busy, mode }}
        ItemSeparatorComponent={Divider}
        keyboardShouldPersistTaps="handled"
        renderItem={({ item }) => (
          <PersonRow
            user={item}
            picked={mode === "group" && selected.includes(item.id)}
            busy={busy === item.id}
            disabled={busy !== null}
            onPress={() => pick(item)}
          />
        )}
      />
    );
  }

  return (
    <Screen edges={["bottom"]} testID="new-conversation-screen">
      <Stack.Screen options={{ title: mode === "direct" ? "New message" : "New group" }} />
      <View style={{ padding: space.lg, gap: space.md }}>
        <Row gap={space.sm}>
          {(["direct", "group"] as const).map((m) => (
            <View key={m} style={{ flex: 1 }}>
              <Button
                testID={`mode-${m}`}
                title={m === "direct" ? "Direct message" : "Group"}
                kind={mode === m ? "primary" : "secondary"}
                small
                onPress={() => {
                  setMode(m);
                  setError(null);
                }}
              />
            </View>
          ))}
        </Row>
        {mode === "group" ? (
          <View style={{ gap: space.sm }}>
            <TextField
              testID="group-name"
              label="Group name"
              placeholder="Weekend trip"
              maxLength={100}
              value={name}
              onChangeText={setName}
            />
            {selected.length > 0 ? (
              <Row gap={space.xs} style={{ flexWrap: "wrap" }}>
                {selected.map((userId) => (
                  <Pressable
                    key={userId}
                    testID={`selected-${people[userId]?.username ?? userId}`}
                    accessibilityRole="button"
                    accessibilityLabel={`Remove ${personName(people[userId]) ?? "member"}`}
                    onPress={() => setSelected((now) => now.filter((id) => id !== userId))}
                    style={{
                      backgroundColor: colors.surfaceMuted,
                      borderRadius: radius.round,
                      paddingHorizontal: space.md,
                      paddingVertical: space.xs,
                    }}
                  >
                    <Text variant="caption">{`${personName(people[userId]) ?? "Someone"}  ✕`}</Text>
                  </Pressable>
                ))}
              </Row>
            ) : null}
            <Button
              testID="create-group"
              title={selected.length > 0 ? `Create group (${selected.length + 1})` : "Create group"}
              disabled={name.trim() === "" || selected.length === 0}
              busy={busy === "group"}
              onPress={() => void createGroup()}
            />
          </View>
        ) : null}
        <TextField
          testID="user-search"
          placeholder="Search by username"
          accessibilityLabel="Search by username"
          autoCapitalize="none"
          autoCorrect={false}
          autoFocus
          maxLength={64}
          value={query}
          onChangeText={setQuery}
        />
        {error !== null ? (
          <Text testID="new-conversation-error" variant="caption" color={colors.danger}>
            {error}
          </Text>
        ) : null}
      </View>
      <View style={{ flex: 1 }}>{resultsView}</View>
    </Screen>
  );
}

function PersonRow(props: {
  user: UserProfile;
  picked: boolean;
  busy: boolean;
  disabled: boolean;
  onPress: () => void;
}) {
  const { colors } = useTheme();
  const { user } = props;
  return (
    <Pressable
      testID={`user-result-${user.username}`}
      accessibilityRole="button"
      accessibilityState={{ selected: props.picked, disabled: props.disabled }}
      disabled={props.disabled}
      onPress={props.onPress}
      style={({ pressed }) => ({
        backgroundColor: pressed || props.picked ? colors.surfaceMuted : colors.background,
        paddingHorizontal: space.lg,
        paddingVertical: space.md,
        opacity: props.disabled && !props.busy ? 0.6 : 1,
      })}
    >
      <Row gap={space.md}>
        <Avatar name={personName(user) ?? user.username} uri={user.avatar_url || null} size={40} />
        <View style={{ flex: 1 }}>
          <Text variant="label" numberOfLines={1}>
            {personName(user)}
          </Text>
          <Text variant="caption" muted numberOfLines={1}>
            @{user.username}
          </Text>
        </View>
        {props.busy ? (
          <Text variant="caption" muted>
            Opening…
          </Text>
        ) : props.picked ? (
          <Text variant="label" color={colors.primary}>
            ✓
          </Text>
        ) : null}
      </Row>
    </Pressable>
  );
}
