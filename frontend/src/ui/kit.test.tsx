// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { Badge, Button, ago, money } from "./kit";

afterEach(cleanup);

describe("kit", () => {
  it("Badge shows nothing at zero and caps at 99+", () => {
    const { rerender } = render(<Badge count={0} testID="b" />);
    expect(screen.queryByTestId("b")).toBeNull();
    rerender(<Badge count={7} testID="b" />);
    expect(screen.getByTestId("b").textContent).toBe("7");
    rerender(<Badge count={150} testID="b" />);
    expect(screen.getByTestId("b").textContent).toBe("99+");
  });

  it("Button presses unless disabled or busy", () => {
    const pressed = vi.fn();
    const { rerender } = render(<Button title="Go" onPress={pressed} testID="go" />);
    fireEvent.click(screen.getByTestId("go"));
    expect(pressed).toHaveBeenCalledTimes(1);
    rerender(<Button title="Go" onPress={pressed} testID="go" busy />);
    fireEvent.click(screen.getByTestId("go"));
    expect(pressed).toHaveBeenCalledTimes(1);
  });

  it("words times and money", () => {
    expect(ago(1000, 1030)).toBe("now");
    expect(ago(1000, 1000 + 7200)).toBe("2h");
    expect(money(1999, "USD")).toContain("19.99");
    expect(money(500, "JPY")).toContain("500");
  });
});
