/**
 * The line at the bottom of a conversation: a text field and Send. Every
 * keystroke is reported (`onTyping`; the store decides how often to tell the
 * others); Enter sends on the web.
 */
import { useState } from "react";
import { View } from "react-native";

import { Button, Row, TextField } from "../ui/kit";
import { space, useTheme } from "../ui/theme";

/** The server's limit on a message's text. */
export const MESSAGE_MAX = 4000;

export function MessageComposer(props: { onSend: (text: string) => void; onTyping?: () => void; disabled?: boolean }) {
  const { colors } = useTheme();
  const [text, setText] = useState("");
  const ready = text.trim() !== "" && props.disabled !== true;
  const send = () => {
    if (!ready) return;
    props.onSend(text.trim());
    setText("");
  };
  return (
    <View
      style={{
        borderTopWidth: 1,
        borderTopColor: colors.border,
        backgroundColor: colors.surface,
        paddingHorizontal: space.md,
        paddingVertical: space.sm,
      }}
    >
      <Row gap={space.sm}>
        <View style={{ flex: 1 }}>
          <TextField
            testID="composer"
            placeholder="Message"
            accessibilityLabel="Message"
            value={text}
            maxLength={MESSAGE_MAX}
            onChangeText={(value) => {
              setText(value);
              if (value !== "") props.onTyping?.();
            }}
            onSubmitEditing={send}
            submitBehavior="submit"
            returnKeyType="send"
          />
        </View>
        <Button testID="send" title="Send" onPress={send} disabled={!ready} />
      </Row>
    </View>
  );
}
