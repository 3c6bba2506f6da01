// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { MessageBubble } from "./MessageBubble";
import { MessageComposer } from "./MessageComposer";

afterEach(cleanup);

describe("MessageBubble", () => {
  it("shows a message being sent as such, and a sent one with its time and no status", () => {
    const { rerender } = render(<MessageBubble mine text="hello" status="sending" />);
    expect(screen.getByTestId("message-text").textContent).toBe("hello");
    expect(screen.getByTestId("sending").textContent).toBe("Sending…");
    rerender(<MessageBubble mine text="hello" time="14:05" />);
    expect(screen.queryByTestId("sending")).toBeNull();
    expect(screen.getByTestId("message").textContent).toContain("14:05");
  });

  it("offers retry and delete for a refused message, with the reason", () => {
    const retry = vi.fn();
    const discard = vi.fn();
    render(
      <MessageBubble mine text="hi" status="failed" failure="You can't do that." onRetry={retry} onDiscard={discard} />,
    );
    expect(screen.getByTestId("send-failed").textContent).toContain("You can't do that.");
    fireEvent.click(screen.getByTestId("retry"));
    fireEvent.click(screen.getByTestId("discard"));
    expect(retry).toHaveBeenCalledTimes(1);
    expect(discard).toHaveBeenCalledTimes(1);
  });

  it("names the sender when asked, says Seen when read, and hides a deleted text", () => {
    const { rerender } = render(<MessageBubble mine={false} text="yo" sender="Anna" />);
    expect(screen.getByTestId("message-sender").textContent).toBe("Anna");
    expect(screen.queryByTestId("seen")).toBeNull();
    rerender(<MessageBubble mine text="yo" seen="Seen" />);
    expect(screen.queryByTestId("message-sender")).toBeNull();
    expect(screen.getByTestId("seen").textContent).toBe("Seen");
    rerender(<MessageBubble mine text="secret" deleted />);
    expect(screen.queryByText("secret")).toBeNull();
    expect(screen.getByText("Message deleted")).toBeTruthy();
  });
});

describe("MessageComposer", () => {
  it("sends the trimmed text once, clears itself, reports typing, and refuses blanks", () => {
    const sent = vi.fn();
    const typing = vi.fn();
    render(<MessageComposer onSend={sent} onTyping={typing} />);
    const field = screen.getByTestId("composer");
    fireEvent.click(screen.getByTestId("send"));
    expect(sent).not.toHaveBeenCalled();
    fireEvent.change(field, { target: { value: "   " } });
    fireEvent.click(screen.getByTestId("send"));
    expect(sent).not.toHaveBeenCalled();
    fireEvent.change(field, { target: { value: "  hello there " } });
    expect(typing).toHaveBeenCalled();
    fireEvent.click(screen.getByTestId("send"));
    expect(sent).toHaveBeenCalledWith("hello there");
    expect(sent).toHaveBeenCalledTimes(1);
    expect((field as HTMLInputElement).value).toBe("");
  });
});
