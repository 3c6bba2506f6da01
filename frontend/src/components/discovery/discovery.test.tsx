// @vitest-environment jsdom
/**
 * The bell, an inbox row and the segmented control, rendered through
 * react-native-web over a real notifications store on a real Grover.
 */
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, test, vi } from "vitest";

import { closedAfterEach, until } from "../../../test/helpers";
import { createNotificationsStore } from "../../stores/notifications";
import { NotificationRow } from "./NotificationRow";
import { Segments, Toggle } from "../../ui/controls";
import { UnreadBell } from "./UnreadBell";

const user = closedAfterEach().user;
afterEach(cleanup);

describe("UnreadBell", () => {
  test("shows the unread count live and loses it once read", async () => {
    const { c, auth } = await user();
    const { c: fan } = await user();
    const inbox = createNotificationsStore(c);
    inbox.getState().start();
    await until(() => inbox.getState().status === "ready");
    const pressed = vi.fn();
    render(<UnreadBell store={inbox} onPress={pressed} />);
    expect(screen.queryByTestId("notification-badge")).toBeNull();

    await act(() => fan.request("follow.create", { user_id: auth.user.id }));
    await waitFor(() => expect(screen.getByTestId("notification-badge").textContent).toBe("1"));
    fireEvent.click(screen.getByTestId("notification-bell"));
    expect(pressed).toHaveBeenCalledTimes(1);

    await act(() => inbox.getState().markAllRead());
    expect(screen.queryByTestId("notification-badge")).toBeNull();
  });
});

describe("NotificationRow", () => {
  test("words who did what, marks it unread, and opens it", async () => {
    const { c } = await user();
    const post = await c.request("post.create", { client_key: `k${Date.now()}`, text: "golden hour" });
    const { c: one, auth: oneAuth } = await user();
    const { c: two, auth: twoAuth } = await user();
    await one.request("post.like", { post_id: post.id });
    await two.request("post.like", { post_id: post.id });
    let rows = (await c.request("notification.list", {})).notifications;
    for (let tries = 0; rows[0]?.actor_count !== 2 && tries < 100; tries += 1) {
      await new Promise((r) => setTimeout(r, 20));
      rows = (await c.request("notification.list", {})).notifications;
    }
    const likes = rows[0];
    if (likes === undefined) throw new Error("no notification");
    const pressed = vi.fn();
    render(<NotificationRow notification={likes} onPress={pressed} now={likes.updated_at + 120} />);
    const row = screen.getByTestId(`notification-${likes.id}`);
    expect(row.textContent).toContain(`${twoAuth.user.username} and ${oneAuth.user.username} liked your post`);
    expect(row.textContent).toContain("2m");
    expect(screen.getByTestId(`notification-dot-${likes.id}`)).toBeTruthy();
    fireEvent.click(row);
    expect(pressed).toHaveBeenCalledTimes(1);

    cleanup();
    render(<NotificationRow notification={{ ...likes, read: true }} onPress={pressed} />);
    expect(screen.queryByTestId(`notification-dot-${likes.id}`)).toBeNull();
  });
});

describe("Segments and Toggle", () => {
  test("marks the chosen segment and reports a press", () => {
    const chosen = vi.fn();
    const options = [
      { value: "users", label: "Users", testID: "seg-users" },
      { value: "posts", label: "Posts", testID: "seg-posts" },
    ] as const;
    render(<Segments options={options} value="users" onChange={chosen} />);
    expect(screen.getByTestId("seg-users").getAttribute("aria-selected")).toBe("true");
    expect(screen.getByTestId("seg-posts").getAttribute("aria-selected")).toBe("false");
    fireEvent.click(screen.getByTestId("seg-posts"));
    expect(chosen).toHaveBeenCalledWith("posts");
  });

  test("a toggle shows its state and asks for the other", () => {
    const changed = vi.fn();
    render(<Toggle value label="Mentions" onChange={changed} testID="t" />);
    expect(screen.getByTestId("t").getAttribute("aria-checked")).toBe("true");
    fireEvent.click(screen.getByTestId("t"));
    expect(changed).toHaveBeenCalledWith(false);
  });
});
