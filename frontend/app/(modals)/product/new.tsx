import * as ImagePicker from "expo-image-picker";
import { router, Stack } from "expo-router";
import { useState } from "react";
import { KeyboardAvoidingView, Platform, ScrollView, View } from "react-native";

import { CURRENCIES, CURRENCY_DIGITS, type Currency, parsePrice, PriceError } from "../../../src/market/price";
import { type UploadedMedia, uploadMedia } from "../../../src/media/upload";
import { LIMITS } from "../../../src/protocol/types";
import { useGrover } from "../../../src/runtime/grover";
import { marketOf } from "../../../src/stores/market";
import { Chip } from "../../../src/ui/controls";
import { describe } from "../../../src/ui/errors";
import { Button, LazyImage, Row, Screen, Text, TextField } from "../../../src/ui/kit";
import { space, useTheme } from "../../../src/ui/theme";

type Kind = "physical" | "digital";

/** The product's photo: uploading (with its share sent), uploaded, or failed. */
interface Photo {
  preview: string;
  progress: number;
  media: UploadedMedia | null;
  error: string | null;
}
type Field = "title" | "description" | "price" | "stock";

/** Each field's problem, or none: what the server would refuse, said before sending. */
function validate(form: { title: string; description: string; price: string; stock: string }, currency: Currency) {
  const errors: Partial<Record<Field, string>> = {};
  let price = 0;
  let stock: number | null = null;
  const title = form.title.trim();
  if (title === "") errors.title = "Give it a title.";
  else if (title.length > LIMITS.TITLE_MAX) errors.title = `At most ${LIMITS.TITLE_MAX} characters.`;
  if (form.description.length > LIMITS.PRODUCT_DESCRIPTION_MAX) {
    errors.description = `At most ${LIMITS.PRODUCT_DESCRIPTION_MAX} characters.`;
  }
  try {
    price = parsePrice(form.price, currency);
  } catch (error) {
    errors.price = error instanceof PriceError ? error.message : "Enter a price.";
  }
  const stockText = form.stock.trim();
  if (stockText !== "") {
    if (!/^\d+$/.test(stockText) || Number(stockText) > LIMITS.STOCK_MAX) {
      errors.stock = `A whole number from 0 to ${LIMITS.STOCK_MAX.toLocaleString()}, or empty for unlimited.`;
    } else {
      stock = Number(stockText);
    }
  }
  return { errors, title, price, stock };
}

export default function NewProduct() {
  const grover = useGrover();
  const market = grover.part(marketOf);
  const { colors } = useTheme();
  const [form, setForm] = useState({ title: "", description: "", price: "", stock: "" });
  const [currency, setCurrency] = useState<Currency>("USD");
  const [kind, setKind] = useState<Kind>("physical");
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [photo, setPhoto] = useState<Photo | null>(null);

  const pickPhoto = async () => {
    let result: ImagePicker.ImagePickerResult;
    try {
      result = await ImagePicker.launchImageLibraryAsync({ mediaTypes: ["images"], quality: 0.9 });
    } catch {
      setPhoto({ preview: "", progress: 0, media: null, error: "Couldn't open your photos." });
      return;
    }
    const asset = result.canceled ? undefined : result.assets[0];
    if (asset === undefined) return;
    setPhoto({ preview: asset.uri, progress: 0, media: null, error: null });
    try {
      const media = await uploadMedia(grover, asset, (progress) =>
        setPhoto((p) => (p === null ? p : { ...p, progress })),
      );
      setPhoto((p) => (p === null ? p : { ...p, progress: 1, media }));
    } catch (error) {
      setPhoto((p) => (p === null ? p : { ...p, error: describe(error) }));
    }
  };
  const uploading = photo !== null && photo.media === null && photo.error === null;

  const edit = (field: Field) => (value: string) => {
    setForm((f) => ({ ...f, [field]: value }));
    setErrors((e) => ({ ...e, [field]: undefined }));
  };

  const save = async () => {
    const checked = validate(form, currency);
    setErrors(checked.errors);
    setFailure(null);
    if (Object.values(checked.errors).some(Boolean)) return;
    setBusy(true);
    try {
      const product = await market.getState().createProduct({
        title: checked.title,
        description: form.description.trim(),
        price: checked.price,
        currency,
        stock: checked.stock,
        kind,
        media_ids: photo?.media ? [photo.media.id] : [],
      });
      router.replace(`/product/${product.id}`);
    } catch (error) {
      setFailure(describe(error));
      setBusy(false);
    }
  };

  return (
    <Screen edges={["bottom"]}>
      <Stack.Screen options={{ title: "New product" }} />
      <KeyboardAvoidingView style={{ flex: 1 }} behavior={Platform.OS === "ios" ? "padding" : undefined}>
        <ScrollView
          keyboardShouldPersistTaps="handled"
          contentContainerStyle={{ padding: space.lg, gap: space.lg, maxWidth: 560, width: "100%", alignSelf: "center" }}
        >
          <Text variant="title">Sell something</Text>
          <TextField
            testID="product-title"
            label="Title"
            value={form.title}
            onChangeText={edit("title")}
            maxLength={LIMITS.TITLE_MAX}
            error={errors.title}
            placeholder="Signed print, preset pack…"
          />
          <TextField
            testID="product-description"
            label="Description"
            value={form.description}
            onChangeText={edit("description")}
            multiline
            style={{ minHeight: 96, textAlignVertical: "top" }}
            error={errors.description}
            placeholder="What buyers get"
          />
          <View style={{ gap: space.xs }}>
            <Text variant="caption" muted>
              Currency
            </Text>
            <ScrollView horizontal showsHorizontalScrollIndicator={false} contentContainerStyle={{ gap: space.sm }}>
              {CURRENCIES.map((c) => (
                <Chip
                  key={c}
                  testID={`product-currency-${c}`}
                  label={c}
                  chosen={c === currency}
                  onPress={() => {
                    setCurrency(c);
                    setErrors((e) => ({ ...e, price: undefined }));
                  }}
                />
              ))}
            </ScrollView>
          </View>
          <TextField
            testID="product-price"
            label={`Price (${currency})`}
            value={form.price}
            onChangeText={edit("price")}
            keyboardType={CURRENCY_DIGITS[currency] === 0 ? "number-pad" : "decimal-pad"}
            placeholder={CURRENCY_DIGITS[currency] === 0 ? "1500" : "12.50"}
            error={errors.price}
          />
          <TextField
            testID="product-stock"
            label="How many to sell"
            value={form.stock}
            onChangeText={edit("stock")}
            keyboardType="number-pad"
            placeholder="Unlimited"
            error={errors.stock}
          />
          <View style={{ gap: space.xs }}>
            <Text variant="caption" muted>
              Kind
            </Text>
            <View style={{ flexDirection: "row", gap: space.sm }}>
              <Chip testID="product-kind-physical" label="Physical" chosen={kind === "physical"} onPress={() => setKind("physical")} />
              <Chip testID="product-kind-digital" label="Digital" chosen={kind === "digital"} onPress={() => setKind("digital")} />
            </View>
            <Text variant="caption" muted>
              {kind === "physical"
                ? "You ship it and mark the order fulfilled."
                : "Delivered by you online; the order counts as fulfilled once paid."}
            </Text>
          </View>
          {failure ? (
            <Text testID="product-error" variant="label" color={colors.danger}>
              {failure}
            </Text>
          ) : null}
          <View style={{ gap: space.sm }}>
            <Text variant="caption" muted>
              Photo
            </Text>
            {photo !== null && photo.preview !== "" ? (
              <View style={{ width: 160 }}>
                <LazyImage uri={photo.media?.url ?? photo.preview} blurhash={photo.media?.blurhash} aspectRatio={4 / 3} />
              </View>
            ) : null}
            {uploading ? (
              <Text testID="product-photo-progress" variant="caption" muted>
                Uploading… {Math.round((photo?.progress ?? 0) * 100)}%
              </Text>
            ) : null}
            {photo?.media ? (
              <Text testID="product-photo-ready" variant="caption" muted>
                Uploaded
              </Text>
            ) : null}
            {photo?.error ? (
              <Text testID="product-photo-error" variant="caption" color={colors.danger}>
                {photo.error}
              </Text>
            ) : null}
            <Row>
              <Button
                testID="product-add-photo"
                small
                kind="secondary"
                title={photo === null ? "Add a photo" : "Choose another"}
                disabled={uploading}
                onPress={() => void pickPhoto()}
              />
              {photo !== null ? (
                <Button small kind="ghost" title="Remove" disabled={uploading} onPress={() => setPhoto(null)} />
              ) : null}
            </Row>
          </View>
          <Button
            testID="product-save"
            title="List product"
            busy={busy}
            disabled={uploading}
            onPress={() => void save()}
          />
        </ScrollView>
      </KeyboardAvoidingView>
    </Screen>
  );
}
