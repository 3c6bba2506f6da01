// @vitest-environment jsdom
/**
 * The live screens' parts as the web renders them: the video area's panel
 * (no video on the web, and why), the stream's state over it, and chat rows.
 */
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { ChatRow, LiveStats } from "../live/LiveRoom";
import type { ChatLine, StreamView } from "../protocol/types";
import { LiveVideo } from "./LiveVideo";

afterEach(cleanup);

const now = Date.now() / 1000;

const stream: StreamView = {
  id: "s1",
  host: {
    id: "h1",
    username: "potter",
    display_name: "Pat the Potter",
    bio: "",
    avatar_url: "",
    created_at: 0,
    followers_count: 0,
    following_count: 0,
    posts_count: 0,
    i_follow: false,
    follows_me: false,
  },
  title: "Morning pottery",
  description: "",
  tags: [],
  thumbnail_url: "",
  status: "live",
  channel: "c1",
  scheduled_time: null,
  start_time: now - 75,
  end_time: null,
  viewer_count: 3,
  peak_viewers: 3,
  unique_viewers: 4,
  duration: 75,
  visibility: "public",
  chat_mode: "everyone",
  slow_mode_seconds: 0,
  moderators: [],
  pinned: null,
};

function line(author: ChatLine["author"], text: string, tip: ChatLine["tip"] = null): ChatLine {
  return { id: `l-${text}`, stream_id: "s1", author, text, created_at: now, tip };
}

describe("LiveVideo on the web", () => {
  it("shows the stream's state and says video plays in the native app", () => {
    render(<LiveVideo stream={stream} token={null} role="viewer" videoEnabled={false} />);
    expect(screen.getByTestId("live-stage").textContent).toContain("Pat the Potter is live");
    const note = screen.getByTestId("live-video-note").textContent ?? "";
    expect(note).toContain("Video plays in the Grover app on iOS and Android");
    expect(note).toContain("this server has no Agora credentials");
    expect(note).toContain("web shows the stream's state only");
  });

  it("does not blame the server when it has Agora credentials", () => {
    render(<LiveVideo stream={stream} token={null} role="host" videoEnabled />);
    const note = screen.getByTestId("live-video-note").textContent ?? "";
    expect(note).toContain("web shows the stream's state only");
    expect(note).not.toContain("Agora");
  });
});

describe("LiveStats", () => {
  it("reads LIVE, the time since the start and the viewers; an ended stream shows its length and no count", () => {
    const { rerender } = render(<LiveStats stream={stream} />);
    expect(screen.getByText("LIVE")).toBeTruthy();
    expect(screen.getByTestId("viewer-count").textContent).toBe("3 watching");
    expect(screen.getByTestId("live-elapsed").textContent).toMatch(/^1:1[5-9]$/);
    rerender(<LiveStats stream={{ ...stream, status: "ended", end_time: stream.start_time! + 600 }} />);
    expect(screen.getByText("ENDED")).toBeTruthy();
    expect(screen.queryByTestId("viewer-count")).toBeNull();
    expect(screen.getByTestId("live-elapsed").textContent).toBe("10:00");
  });
});

describe("ChatRow", () => {
  it("names the author, marks the host, and shows a tip's amount", () => {
    const viewer = { id: "v1", username: "bea", display_name: "", avatar_url: "" };
    render(
      <>
        <ChatRow line={line(viewer, "hi from B")} hostId="h1" />
        <ChatRow line={line({ ...stream.host }, "welcome!")} hostId="h1" />
        <ChatRow line={line(viewer, "for the clay", { amount: 500, currency: "USD", order_id: "o1" })} hostId="h1" />
      </>,
    );
    const rows = screen.getAllByTestId("live-chat-line").map((row) => row.textContent);
    // Each row starts with the avatar's initial.
    expect(rows[0]).toBe("Bbea  hi from B");
    expect(rows[1]).toBe("PPat the Potter · host  welcome!");
    expect(rows[2]).toContain("tipped $5.00");
    expect(rows[2]).toContain("for the clay");
  });
});
