import { Link } from "expo-router";
import { useState } from "react";
import { View } from "react-native";
import { useStore } from "zustand";

import { useGrover } from "../../src/runtime/grover";
import { errorText } from "../../src/ui/errors";
import { Button, Screen, Text, TextField } from "../../src/ui/kit";
import { space } from "../../src/ui/theme";

export default function Signup() {
  const session = useGrover().session;
  const { busy, error } = useStore(session);
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const submit = () =>
    void session.getState().register(username.trim(), email.trim(), password).catch(() => undefined);
  return (
    <Screen padded>
      <View style={{ flex: 1, justifyContent: "center", gap: space.lg, maxWidth: 420, width: "100%", alignSelf: "center" }}>
        <Text variant="display">Join Grover</Text>
        <Text muted>Post, chat, go live and sell to the people who follow you.</Text>
        <TextField testID="signup-username" label="Username" autoCapitalize="none" value={username} onChangeText={setUsername} />
        <TextField testID="signup-email" label="Email" autoCapitalize="none" keyboardType="email-address" value={email} onChangeText={setEmail} />
        <TextField
          testID="signup-password"
          label="Password (8 characters or more)"
          secureTextEntry
          value={password}
          onChangeText={setPassword}
          onSubmitEditing={submit}
          error={error ? errorText(error) : null}
        />
        <Button testID="signup-submit" title="Create account" busy={busy} disabled={!username || !email || password.length < 8} onPress={submit} />
        <Link href="/login" testID="to-login">
          <Text muted>Have an account? Log in</Text>
        </Link>
      </View>
    </Screen>
  );
}
