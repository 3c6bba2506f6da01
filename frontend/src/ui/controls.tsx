/** Choice controls: a segmented control, a chip, a toggle. */
import { Pressable, View } from "react-native";

import { Text } from "./kit";
import { radius, space, useTheme } from "./theme";

export interface Segment<T extends string> {
  value: T;
  label: string;
  testID: string;
}

export function Segments<T extends string>(props: {
  options: readonly Segment<T>[];
  value: T;
  onChange: (value: T) => void;
}) {
  const { colors } = useTheme();
  return (
    <View
      accessibilityRole="tablist"
      style={{
        flexDirection: "row",
        backgroundColor: colors.surfaceMuted,
        borderRadius: radius.md,
        padding: space.xs / 2,
        gap: space.xs / 2,
      }}
    >
      {props.options.map((option) => {
        const chosen = option.value === props.value;
        return (
          <Pressable
            key={option.value}
            testID={option.testID}
            accessibilityRole="tab"
            aria-selected={chosen}
            onPress={() => props.onChange(option.value)}
            style={{
              flex: 1,
              alignItems: "center",
              paddingVertical: space.sm,
              borderRadius: radius.md - 2,
              backgroundColor: chosen ? colors.surface : "transparent",
              borderWidth: 1,
              borderColor: chosen ? colors.border : "transparent",
            }}
          >
            <Text variant="label" color={chosen ? colors.text : colors.textMuted}>
              {option.label}
            </Text>
          </Pressable>
        );
      })}
    </View>
  );
}

/** A small rounded choice (a tag, a radius). */
export function Chip(props: { label: string; onPress: () => void; chosen?: boolean; testID?: string }) {
  const { colors } = useTheme();
  return (
    <Pressable
      testID={props.testID}
      accessibilityRole="button"
      aria-selected={props.chosen === true}
      onPress={props.onPress}
      style={({ pressed }) => ({
        paddingVertical: space.xs + 2,
        paddingHorizontal: space.md,
        borderRadius: radius.round,
        borderWidth: 1,
        borderColor: props.chosen ? colors.primary : colors.border,
        backgroundColor: props.chosen ? colors.primary : colors.surface,
        opacity: pressed ? 0.8 : 1,
      })}
    >
      <Text variant="label" color={props.chosen ? colors.onPrimary : colors.text}>
        {props.label}
      </Text>
    </Pressable>
  );
}

/** An on/off switch, drawn so it takes the theme's colours on every platform. */
export function Toggle(props: { value: boolean; onChange: (value: boolean) => void; label: string; testID?: string }) {
  const { colors } = useTheme();
  return (
    <Pressable
      testID={props.testID}
      accessibilityRole="switch"
      accessibilityLabel={props.label}
      aria-checked={props.value}
      onPress={() => props.onChange(!props.value)}
      hitSlop={space.sm}
      style={{
        width: 46,
        height: 28,
        padding: 3,
        borderRadius: radius.round,
        backgroundColor: props.value ? colors.primary : colors.border,
        alignItems: props.value ? "flex-end" : "flex-start",
        justifyContent: "center",
      }}
    >
      <View style={{ width: 22, height: 22, borderRadius: radius.round, backgroundColor: colors.surface }} />
    </Pressable>
  );
}
