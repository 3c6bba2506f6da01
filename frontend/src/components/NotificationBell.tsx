/**
 * The bell for a screen's header: the unread count of this login's inbox
 * on it, and a tap opens the notifications. The first page (and so the
 * count) is fetched when the bell first shows.
 */
import { router } from "expo-router";
import { useEffect } from "react";

import { useGrover } from "../runtime/grover";
import { notificationsPart } from "../stores/notifications";
import { UnreadBell } from "./discovery/UnreadBell";

export function NotificationBell() {
  const store = useGrover().part(notificationsPart);
  useEffect(() => store.getState().start(), [store]);
  return <UnreadBell store={store} onPress={() => router.push("/notifications")} />;
}
