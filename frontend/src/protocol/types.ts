// Generated from protocol/ by `make types` (python -m protocol.typescript).
// Do not edit: change the Python structs and run `make types`.
/* eslint-disable */

export const PROTOCOL_VERSION = 2;
export const SUPPORTED_VERSIONS = [2] as const;

export const LIMITS = {
  MAX_FRAME_BYTES: 65536,
  MAX_REPLY_BYTES: 262144,
  MAX_REQUEST_ID: 9007199254740991,
  USERNAME_MIN: 3,
  USERNAME_MAX: 30,
  EMAIL_MAX: 254,
  PASSWORD_MIN: 8,
  PASSWORD_MAX: 128,
  DISPLAY_NAME_MAX: 64,
  BIO_MAX: 500,
  URL_MAX: 2048,
  TOKEN_MAX: 128,
  SESSION_ID_MAX: 64,
  SEARCH_QUERY_MAX: 64,
  SEARCH_LIMIT_MAX: 50,
  SEARCH_TEXT_MAX: 256,
  SEARCH_DEPTH_MAX: 500,
  RADIUS_KM_MAX: 1000,
  VERSIONS_MAX: 8,
  CLIENT_NAME_MAX: 64,
  MESSAGE_TEXT_MAX: 4000,
  CLIENT_KEY_MAX: 64,
  TITLE_MAX: 100,
  GROUP_MEMBERS_MAX: 256,
  PAGE_LIMIT_MAX: 100,
  POST_TEXT_MAX: 2200,
  POST_MEDIA_MAX: 10,
  POST_TAGS_MAX: 30,
  TAG_MAX: 64,
  POST_MENTIONS_MAX: 20,
  PLACE_NAME_MAX: 200,
  COMMENT_TEXT_MAX: 2200,
  CURSOR_MAX: 256,
  WATCH_MAX: 50,
  FOLLOWING_MAX: 7500,
  REPORT_TEXT_MAX: 500,
  CHAT_TEXT_MAX: 500,
  STREAM_DESCRIPTION_MAX: 2000,
  STREAM_TAGS_MAX: 10,
  STREAM_MODERATORS_MAX: 20,
  SLOW_MODE_MAX: 3600,
  MUTE_MAX: 604800,
  SCHEDULE_AHEAD_MAX: 31536000,
  TIME_MAX: 100000000000.0,
  PRICE_MAX: 100000000,
  PRODUCT_DESCRIPTION_MAX: 5000,
  PRODUCT_MEDIA_MAX: 10,
  STOCK_MAX: 1000000,
  ORDER_QUANTITY_MAX: 100,
  TIP_MESSAGE_MAX: 200,
} as const;

export type ErrorCode =
  | "bad_frame"
  | "unknown_type"
  | "invalid_field"
  | "hello_required"
  | "already_greeted"
  | "unsupported_version"
  | "unauthenticated"
  | "invalid_token"
  | "token_expired"
  | "invalid_credentials"
  | "username_taken"
  | "email_taken"
  | "duplicate_request_id"
  | "rate_limited"
  | "not_found"
  | "forbidden"
  | "overloaded"
  | "timeout"
  | "internal"
  | "suspended"
  | "payments_not_configured"
  | "payment_provider_error"
  | "payment_declined"
  | "product_unavailable"
  | "out_of_stock"
  | "invalid_state"
  | "insufficient_balance"
  | "refund_exceeds_paid"
;

export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  TRY_AGAIN_LATER: 1013,
  HELLO_TIMEOUT: 4001,
  UNSUPPORTED_VERSION: 4002,
  LOGGED_OUT: 4003,
  SUSPENDED: 4004,
  SLOW_CONSUMER: 4008,
  RESYNC: 4009,
} as const;

export interface Hello {
  type: "hello";
  id: number;  // ge 0, le 9007199254740991
  versions: number[];  // min_length 1, max_length 8
  token?: string | null;
  resume?: Resume | null;
  client?: string | null;
}

export interface Resume {
  session_id: string;  // min_length 1, max_length 64
  last_seq: number;  // ge 0, le 9223372036854775807
}

export interface Ping {
  type: "ping";
  id: number;  // ge 0, le 9007199254740991
}

export interface Register {
  type: "auth.register";
  id: number;  // ge 0, le 9007199254740991
  username: string;  // min_length 3, max_length 30, pattern ^[A-Za-z0-9_.]+\Z
  email: string;  // max_length 254, pattern ^[^@\s]+@[^@\s]+\.[^@\s.]+\Z
  password: string;  // min_length 8, max_length 128
  display_name?: string;  // max_length 64
}

export interface Login {
  type: "auth.login";
  id: number;  // ge 0, le 9007199254740991
  login: string;  // min_length 1, max_length 254
  password: string;  // min_length 1, max_length 128
}

export interface Logout {
  type: "auth.logout";
  id: number;  // ge 0, le 9007199254740991
}

export interface LogoutAll {
  type: "auth.logout_all";
  id: number;  // ge 0, le 9007199254740991
}

export interface GetProfile {
  type: "profile.get";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
}

export interface UpdateProfile {
  type: "profile.update";
  id: number;  // ge 0, le 9007199254740991
  display_name?: string | null;
  bio?: string | null;
  avatar_media_id?: string | null;
  avatar_url?: string | null;
}

export interface SearchUsers {
  type: "user.search";
  id: number;  // ge 0, le 9007199254740991
  query: string;  // min_length 1, max_length 64
  mode?: "prefix" | "text";
  limit?: number;  // ge 1, le 50
}

export interface BlockUser {
  type: "user.block";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
}

export interface UnblockUser {
  type: "user.unblock";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
}

export interface OpenDirect {
  type: "conversation.open_direct";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
}

export interface CreateGroup {
  type: "conversation.create_group";
  id: number;  // ge 0, le 9007199254740991
  title: string;  // max_length 100
  member_ids: string[];  // max_length 256
}

export interface GetConversation {
  type: "conversation.get";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
}

export interface AddMembers {
  type: "conversation.add_members";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
  user_ids: string[];  // min_length 1, max_length 256
}

export interface RemoveMember {
  type: "conversation.remove_member";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
  user_id: string;  // min_length 1, max_length 64
}

export interface LeaveConversation {
  type: "conversation.leave";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
}

export interface ListConversations {
  type: "conversation.list";
  id: number;  // ge 0, le 9007199254740991
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface SyncChanges {
  type: "conversation.sync";
  id: number;  // ge 0, le 9007199254740991
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface SendMessage {
  type: "message.send";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
  client_key: string;  // min_length 1, max_length 64
  text?: string;  // max_length 4000
  media_id?: string | null;
  media_url?: string;  // max_length 2048, pattern ^(https?://\S+)?\Z
}

export interface EditMessage {
  type: "message.edit";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
  seq: number;  // ge 1, le 9223372036854775807
  text: string;  // min_length 1, max_length 4000
}

export interface DeleteMessage {
  type: "message.delete";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
  seq: number;  // ge 1, le 9223372036854775807
}

export interface History {
  type: "message.history";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
  before_seq?: number | null;
  limit?: number;  // ge 1, le 100
}

export interface MessagesSince {
  type: "message.since";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
  after_seq: number;  // ge 0, le 9223372036854775807
  limit?: number;  // ge 1, le 100
}

export interface MessagingMarkRead {
  type: "conversation.mark_read";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
  seq: number;  // ge 0, le 9223372036854775807
}

export interface Typing {
  type: "typing.start";
  id: number;  // ge 0, le 9007199254740991
  conversation_id: string;  // min_length 1, max_length 64
}

export interface Follow {
  type: "follow.create";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
}

export interface Unfollow {
  type: "follow.delete";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
}

export interface Followers {
  type: "follow.list_followers";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface Following {
  type: "follow.list_following";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface CreatePost {
  type: "post.create";
  id: number;  // ge 0, le 9007199254740991
  client_key: string;  // min_length 1, max_length 64
  text?: string;  // max_length 2200
  media_ids?: string[];  // max_length 10
  tags?: string[];  // max_length 30
  location?: Location | null;
  visibility?: "followers" | "public";
}

export interface Location {
  latitude: number;  // ge -90, le 90
  longitude: number;  // ge -180, le 180
  place_name: string;  // max_length 200
}

export interface EditPost {
  type: "post.edit";
  id: number;  // ge 0, le 9007199254740991
  post_id: string;  // min_length 1, max_length 64
  text: string;  // max_length 2200
  tags?: string[];  // max_length 30
  location?: Location | null;
  clear_location?: boolean;
}

export interface DeletePost {
  type: "post.delete";
  id: number;  // ge 0, le 9007199254740991
  post_id: string;  // min_length 1, max_length 64
}

export interface GetPost {
  type: "post.get";
  id: number;  // ge 0, le 9007199254740991
  post_id: string;  // min_length 1, max_length 64
}

export interface UserPosts {
  type: "post.by_user";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface LikedPosts {
  type: "post.liked";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface HomeFeed {
  type: "feed.home";
  id: number;  // ge 0, le 9007199254740991
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface LikePost {
  type: "post.like";
  id: number;  // ge 0, le 9007199254740991
  post_id: string;  // min_length 1, max_length 64
}

export interface UnlikePost {
  type: "post.unlike";
  id: number;  // ge 0, le 9007199254740991
  post_id: string;  // min_length 1, max_length 64
}

export interface CreateComment {
  type: "comment.create";
  id: number;  // ge 0, le 9007199254740991
  post_id: string;  // min_length 1, max_length 64
  text: string;  // min_length 1, max_length 2200
  parent_comment_id?: string | null;
  client_key: string;  // min_length 1, max_length 64
}

export interface EditComment {
  type: "comment.edit";
  id: number;  // ge 0, le 9007199254740991
  comment_id: string;  // min_length 1, max_length 64
  text: string;  // min_length 1, max_length 2200
}

export interface DeleteComment {
  type: "comment.delete";
  id: number;  // ge 0, le 9007199254740991
  comment_id: string;  // min_length 1, max_length 64
}

export interface ListComments {
  type: "comment.list";
  id: number;  // ge 0, le 9007199254740991
  post_id: string;  // min_length 1, max_length 64
  parent_comment_id?: string | null;
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface LikeComment {
  type: "comment.like";
  id: number;  // ge 0, le 9007199254740991
  comment_id: string;  // min_length 1, max_length 64
}

export interface UnlikeComment {
  type: "comment.unlike";
  id: number;  // ge 0, le 9007199254740991
  comment_id: string;  // min_length 1, max_length 64
}

export interface WatchPosts {
  type: "post.watch";
  id: number;  // ge 0, le 9007199254740991
  post_ids: string[];  // min_length 1, max_length 50
}

export interface UnwatchPosts {
  type: "post.unwatch";
  id: number;  // ge 0, le 9007199254740991
  post_ids: string[];  // min_length 1, max_length 50
}

export interface ListNotifications {
  type: "notification.list";
  id: number;  // ge 0, le 9007199254740991
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface NotificationsMarkRead {
  type: "notification.mark_read";
  id: number;  // ge 0, le 9007199254740991
  notification_id?: string | null;
  up_to_cursor?: string | null;
}

export interface GetSettings {
  type: "notification.get_settings";
  id: number;  // ge 0, le 9007199254740991
}

export interface UpdateSettings {
  type: "notification.update_settings";
  id: number;  // ge 0, le 9007199254740991
  muted: ("comment" | "follow" | "like_comment" | "like_post" | "mention" | "order" | "payout" | "reply" | "stream_live" | "tip")[];  // max_length 16
}

export interface Search {
  type: "search.query";
  id: number;  // ge 0, le 9007199254740991
  kind: "posts" | "tags" | "users";
  query?: string;  // max_length 256
  order?: "best" | "newest";
  tag?: string | null;
  near?: Near | null;
  cursor?: string | null;
  limit?: number;  // ge 1, le 50
}

export interface Near {
  latitude: number;  // ge -90, le 90
  longitude: number;  // ge -180, le 180
  radius_km: number;  // gt 0, le 1000
}

export interface TrendTags {
  type: "trend.tags";
  id: number;  // ge 0, le 9007199254740991
  limit?: number;  // ge 1, le 50
}

export interface SuggestUsers {
  type: "suggestion.users";
  id: number;  // ge 0, le 9007199254740991
  limit?: number;  // ge 1, le 50
}

export interface CreateReport {
  type: "report.create";
  id: number;  // ge 0, le 9007199254740991
  kind: "comment" | "message" | "post" | "user";
  target_id: string;  // min_length 1, max_length 64
  seq?: number | null;
  reason: "harassment" | "hate" | "nudity" | "other" | "spam" | "violence";
  text?: string;  // max_length 500
}

export interface ListReports {
  type: "admin.list_reports";
  id: number;  // ge 0, le 9007199254740991
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface Hide {
  type: "admin.hide";
  id: number;  // ge 0, le 9007199254740991
  kind: "comment" | "post";
  target_id: string;  // min_length 1, max_length 64
  reason?: string;  // max_length 500
}

export interface Restore {
  type: "admin.restore";
  id: number;  // ge 0, le 9007199254740991
  kind: "comment" | "post";
  target_id: string;  // min_length 1, max_length 64
  reason?: string;  // max_length 500
}

export interface Dismiss {
  type: "admin.dismiss";
  id: number;  // ge 0, le 9007199254740991
  kind: "comment" | "message" | "post" | "user";
  target_id: string;  // min_length 1, max_length 64
  seq?: number | null;
  reason?: string;  // max_length 500
}

export interface Suspend {
  type: "admin.suspend";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
  reason?: string;  // max_length 500
}

export interface Unsuspend {
  type: "admin.unsuspend";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
  reason?: string;  // max_length 500
}

export interface AuditLog {
  type: "admin.audit_log";
  id: number;  // ge 0, le 9007199254740991
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface ScheduleStream {
  type: "stream.schedule";
  id: number;  // ge 0, le 9007199254740991
  title: string;  // min_length 1, max_length 100
  description?: string;  // max_length 2000
  tags?: string[];  // max_length 10
  thumbnail_url?: string;  // max_length 2048, pattern ^(https?://\S+)?\Z
  scheduled_time: number;  // ge 0, le 100000000000.0
  visibility?: "followers" | "public";
  chat_mode?: "everyone" | "followers";
}

export interface StartStream {
  type: "stream.start";
  id: number;  // ge 0, le 9007199254740991
  stream_id?: string | null;
  title?: string | null;
  description?: string;  // max_length 2000
  tags?: string[];  // max_length 10
  thumbnail_url?: string;  // max_length 2048, pattern ^(https?://\S+)?\Z
  visibility?: "followers" | "public";
  chat_mode?: "everyone" | "followers";
}

export interface EndStream {
  type: "stream.end";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
}

export interface GetStream {
  type: "stream.get";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
}

export interface JoinStream {
  type: "stream.join";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
}

export interface LeaveStream {
  type: "stream.leave";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
}

export interface ListViewers {
  type: "stream.list_viewers";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface RenewToken {
  type: "stream.renew_token";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
}

export interface SendChat {
  type: "chat.send";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
  text: string;  // min_length 1, max_length 500
  client_key: string;  // min_length 1, max_length 64
}

export interface React {
  type: "chat.react";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
  reaction: "clap" | "fire" | "heart" | "laugh" | "wow";
}

export interface PinChat {
  type: "chat.pin";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
  line_id?: string | null;
}

export interface DeleteChat {
  type: "chat.delete";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
  line_id: string;  // min_length 1, max_length 64
}

export interface MuteChat {
  type: "chat.mute";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
  user_id: string;  // min_length 1, max_length 64
  seconds: number;  // ge 1, le 604800
}

export interface BanViewer {
  type: "stream.ban";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
  user_id: string;  // min_length 1, max_length 64
}

export interface SetModerators {
  type: "stream.set_moderators";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
  user_ids: string[];  // max_length 20
}

export interface UpdateStream {
  type: "stream.update";
  id: number;  // ge 0, le 9007199254740991
  stream_id: string;  // min_length 1, max_length 64
  title?: string | null;
  description?: string | null;
  thumbnail_url?: string | null;
  slow_mode_seconds?: number | null;
  chat_mode?: "everyone" | "followers" | null;
}

export interface LiveNow {
  type: "stream.list_live";
  id: number;  // ge 0, le 9007199254740991
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface ScheduledStreams {
  type: "stream.list_scheduled";
  id: number;  // ge 0, le 9007199254740991
  limit?: number;  // ge 1, le 100
}

export interface HostStreams {
  type: "stream.by_host";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface CreateProduct {
  type: "product.create";
  id: number;  // ge 0, le 9007199254740991
  client_key: string;  // min_length 1, max_length 64
  title: string;  // min_length 1, max_length 100
  description?: string;  // max_length 5000
  media_ids?: string[];  // max_length 10
  price: number;  // ge 1, le 100000000
  currency: "AUD" | "BRL" | "CAD" | "CHF" | "CZK" | "DKK" | "EUR" | "GBP" | "HKD" | "HUF" | "ILS" | "JPY" | "MXN" | "MYR" | "NOK" | "NZD" | "PHP" | "PLN" | "SEK" | "SGD" | "THB" | "TWD" | "USD";
  stock?: number | null;
  kind?: "digital" | "physical";
}

export interface EditProduct {
  type: "product.edit";
  id: number;  // ge 0, le 9007199254740991
  product_id: string;  // min_length 1, max_length 64
  title?: string | null;
  description?: string | null;
  media_ids?: string[] | null;
  price?: number | null;
  stock?: number | null;
  unlimited?: boolean;
  status?: "active" | "paused" | null;
}

export interface DeleteProduct {
  type: "product.delete";
  id: number;  // ge 0, le 9007199254740991
  product_id: string;  // min_length 1, max_length 64
}

export interface GetProduct {
  type: "product.get";
  id: number;  // ge 0, le 9007199254740991
  product_id: string;  // min_length 1, max_length 64
}

export interface ShopProducts {
  type: "product.by_seller";
  id: number;  // ge 0, le 9007199254740991
  user_id: string;  // min_length 1, max_length 64
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface SearchProducts {
  type: "product.search";
  id: number;  // ge 0, le 9007199254740991
  query: string;  // min_length 1, max_length 256
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface CreateOrder {
  type: "order.create";
  id: number;  // ge 0, le 9007199254740991
  client_key: string;  // min_length 1, max_length 64
  product_id: string;  // min_length 1, max_length 64
  quantity?: number;  // ge 1, le 100
}

export interface CreateTip {
  type: "tip.create";
  id: number;  // ge 0, le 9007199254740991
  client_key: string;  // min_length 1, max_length 64
  creator_id: string;  // min_length 1, max_length 64
  amount: number;  // ge 1, le 100000000
  currency: "AUD" | "BRL" | "CAD" | "CHF" | "CZK" | "DKK" | "EUR" | "GBP" | "HKD" | "HUF" | "ILS" | "JPY" | "MXN" | "MYR" | "NOK" | "NZD" | "PHP" | "PLN" | "SEK" | "SGD" | "THB" | "TWD" | "USD";
  post_id?: string | null;
  stream_id?: string | null;
  message?: string;  // max_length 200
}

export interface CaptureOrder {
  type: "order.capture";
  id: number;  // ge 0, le 9007199254740991
  order_id: string;  // min_length 1, max_length 64
}

export interface CancelOrder {
  type: "order.cancel";
  id: number;  // ge 0, le 9007199254740991
  order_id: string;  // min_length 1, max_length 64
}

export interface FulfillOrder {
  type: "order.fulfill";
  id: number;  // ge 0, le 9007199254740991
  order_id: string;  // min_length 1, max_length 64
}

export interface RefundOrder {
  type: "order.refund";
  id: number;  // ge 0, le 9007199254740991
  client_key: string;  // min_length 1, max_length 64
  order_id: string;  // min_length 1, max_length 64
  amount?: number | null;
}

export interface GetOrder {
  type: "order.get";
  id: number;  // ge 0, le 9007199254740991
  order_id: string;  // min_length 1, max_length 64
}

export interface ListOrders {
  type: "order.list";
  id: number;  // ge 0, le 9007199254740991
  role?: "buyer" | "seller";
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface GetBalances {
  type: "balance.get";
  id: number;  // ge 0, le 9007199254740991
}

export interface RequestPayout {
  type: "payout.request";
  id: number;  // ge 0, le 9007199254740991
  client_key: string;  // min_length 1, max_length 64
  currency: "AUD" | "BRL" | "CAD" | "CHF" | "CZK" | "DKK" | "EUR" | "GBP" | "HKD" | "HUF" | "ILS" | "JPY" | "MXN" | "MYR" | "NOK" | "NZD" | "PHP" | "PLN" | "SEK" | "SGD" | "THB" | "TWD" | "USD";
  amount?: number | null;
  paypal_email: string;  // max_length 254, pattern ^[^@\s]+@[^@\s]+\.[^@\s.]+\Z
}

export interface ListPayouts {
  type: "payout.list";
  id: number;  // ge 0, le 9007199254740991
  cursor?: string | null;
  limit?: number;  // ge 1, le 100
}

export interface Welcome {
  version: number;
  session_id: string;
  heartbeat_interval: number;
  resumed: boolean;
  resync: boolean;
  user: Me | null;
  server_time: number;
}

export interface Me {
  id: string;
  username: string;
  display_name: string;
  bio: string;
  avatar_url: string;
  created_at: number;
  followers_count: number;
  following_count: number;
  posts_count: number;
  i_follow: boolean;
  follows_me: boolean;
  email: string;
}

export interface Pong {
  server_time: number;
}

export interface AuthOk {
  token: string;
  expires_at: number;
  user: Me;
}

export interface Empty {
}

export interface Revoked {
  sessions: number;
}

export interface UserProfile {
  id: string;
  username: string;
  display_name: string;
  bio: string;
  avatar_url: string;
  created_at: number;
  followers_count: number;
  following_count: number;
  posts_count: number;
  i_follow: boolean;
  follows_me: boolean;
}

export interface UserList {
  users: UserProfile[];
  has_more: boolean;
}

export interface ConversationView {
  id: string;
  kind: "direct" | "group";
  title: string;
  created_by: string;
  created_at: number;
  members: MemberView[];
  last_seq: number;
}

export interface MemberView {
  user_id: string;
  role: "admin" | "member";
  read_seq: number;
}

export interface ConversationList {
  conversations: ConversationSummary[];
  next_cursor: string | null;
}

export interface ConversationSummary {
  id: string;
  kind: "direct" | "group";
  title: string;
  last_seq: number;
  last_activity_at: number;
  last_preview: string;
  last_sender_id: string | null;
  read_seq: number;
  unread: number;
}

export interface Changes {
  conversations: ConversationSummary[];
  cursor: string | null;
  has_more: boolean;
}

export interface MessageAck {
  conversation_id: string;
  id: string;
  seq: number;
  created_at: number;
  duplicate: boolean;
}

export interface MessageList {
  messages: MessageView[];
  has_more: boolean;
}

export interface MessageView {
  conversation_id: string;
  seq: number;
  id: string;
  kind: "delete" | "edit" | "message";
  sender_id: string;
  text: string;
  media_url: string;
  created_at: number;
  edited_at: number | null;
  deleted: boolean;
  target_seq: number | null;
  client_key: string | null;
}

export interface FollowResult {
  changed: boolean;
  user: UserProfile;
}

export interface UserPage {
  users: UserProfile[];
  next_cursor: string | null;
}

export interface PostView {
  id: string;
  author: UserProfile;
  text: string;
  media_urls: string[];
  media_types: string[];
  media_blurhashes: string[];
  tags: string[];
  mentions: string[];
  location: Location | null;
  visibility: "followers" | "public";
  like_count: number;
  comment_count: number;
  created_at: number;
  edited_at: number | null;
  liked_by_me: boolean;
  hidden: boolean;
}

export interface PostPage {
  posts: PostView[];
  next_cursor: string | null;
}

export interface LikeResult {
  changed: boolean;
  like_count: number;
}

export interface CommentView {
  id: string;
  post_id: string;
  author: UserProfile;
  parent_comment_id: string | null;
  text: string;
  created_at: number;
  edited_at: number | null;
  deleted: boolean;
  reply_count: number;
  like_count: number;
  liked_by_me: boolean;
}

export interface CommentPage {
  comments: CommentView[];
  next_cursor: string | null;
}

export interface Watching {
  post_ids: string[];
}

export interface NotificationPage {
  notifications: NotificationView[];
  next_cursor: string | null;
  read_cursor: string | null;
  unread: number;
}

export interface NotificationView {
  id: string;
  kind: "comment" | "follow" | "like_comment" | "like_post" | "mention" | "order" | "payout" | "reply" | "stream_live" | "tip";
  actors: UserProfile[];
  actor_count: number;
  post_id: string | null;
  comment_id: string | null;
  text: string;
  read: boolean;
  created_at: number;
  updated_at: number;
  stream_id: string | null;
  order_id: string | null;
  payout_id: string | null;
}

export interface Badge {
  unread: number;
}

export interface NotificationSettings {
  muted: ("comment" | "follow" | "like_comment" | "like_post" | "mention" | "order" | "payout" | "reply" | "stream_live" | "tip")[];
}

export interface SearchResults {
  users: UserProfile[];
  posts: PostView[];
  distances_km: number[];
  tags: TagCount[];
  next_cursor: string | null;
}

export interface TagCount {
  tag: string;
  post_count: number;
}

export interface TrendingTags {
  tags: TrendingTag[];
}

export interface TrendingTag {
  tag: string;
  score: number;
  post_count_24h: number;
}

export interface Suggestions {
  users: Suggestion[];
}

export interface Suggestion {
  user: UserProfile;
  reason: "followed_by" | "popular";
  followed_by: UserProfile[];
  followed_by_count: number;
}

export interface ReportAck {
  duplicate: boolean;
}

export interface ReportCasePage {
  cases: ReportCase[];
  next_cursor: string | null;
}

export interface ReportCase {
  kind: "comment" | "message" | "post" | "user";
  target_id: string;
  seq: number | null;
  count: number;
  reasons: string[];
  first_at: number;
  last_at: number;
  reports: ReportView[];
  exists: boolean;
  hidden: boolean;
  author_id: string | null;
  preview: string;
}

export interface ReportView {
  reporter_id: string;
  reason: string;
  text: string;
  created_at: number;
}

export interface ModerationResult {
  changed: boolean;
  reports_closed: number;
}

export interface AuditPage {
  entries: AuditEntry[];
  next_cursor: string | null;
}

export interface AuditEntry {
  id: string;
  admin_id: string | null;
  action: string;
  kind: "comment" | "message" | "post" | "user";
  target_id: string;
  seq: number | null;
  reason: string;
  created_at: number;
}

export interface StreamView {
  id: string;
  host: UserProfile;
  title: string;
  description: string;
  tags: string[];
  thumbnail_url: string;
  status: "ended" | "live" | "scheduled";
  channel: string;
  scheduled_time: number | null;
  start_time: number | null;
  end_time: number | null;
  viewer_count: number;
  peak_viewers: number;
  unique_viewers: number;
  duration: number;
  visibility: "followers" | "public";
  chat_mode: "everyone" | "followers";
  slow_mode_seconds: number;
  moderators: string[];
  pinned: ChatLine | null;
}

export interface ChatLine {
  id: string;
  stream_id: string;
  author: ChatAuthor;
  text: string;
  created_at: number;
  tip: ChatTip | null;
}

export interface ChatAuthor {
  id: string;
  username: string;
  display_name: string;
  avatar_url: string;
}

export interface ChatTip {
  amount: number;
  currency: string;
  order_id: string;
}

export interface HostedStream {
  stream: StreamView;
  token: LiveTokenView;
}

export interface LiveTokenView {
  token: string;
  app_id: string;
  channel: string;
  account: string;
  role: "publisher" | "subscriber";
  expires_at: number;
  development: boolean;
}

export interface JoinedStream {
  stream: StreamView;
  token: LiveTokenView;
  recent: ChatLine[];
}

export interface ViewerPage {
  viewer_count: number;
  users: UserProfile[];
  next_cursor: string | null;
}

export interface ChatSent {
  line: ChatLine;
}

export interface Changed {
  changed: boolean;
}

export interface StreamPage {
  streams: StreamView[];
  next_cursor: string | null;
}

export interface ProductView {
  id: string;
  seller: UserProfile;
  title: string;
  description: string;
  media_urls: string[];
  media_types: string[];
  price: number;
  currency: "AUD" | "BRL" | "CAD" | "CHF" | "CZK" | "DKK" | "EUR" | "GBP" | "HKD" | "HUF" | "ILS" | "JPY" | "MXN" | "MYR" | "NOK" | "NZD" | "PHP" | "PLN" | "SEK" | "SGD" | "THB" | "TWD" | "USD";
  stock: number | null;
  kind: "digital" | "physical";
  status: "active" | "paused";
  created_at: number;
  updated_at: number;
}

export interface ProductPage {
  products: ProductView[];
  next_cursor: string | null;
}

export interface OrderView {
  id: string;
  kind: "product" | "tip";
  buyer: UserProfile;
  seller: UserProfile;
  product_id: string | null;
  title: string;
  quantity: number;
  unit_price: number;
  amount: number;
  currency: "AUD" | "BRL" | "CAD" | "CHF" | "CZK" | "DKK" | "EUR" | "GBP" | "HKD" | "HUF" | "ILS" | "JPY" | "MXN" | "MYR" | "NOK" | "NZD" | "PHP" | "PLN" | "SEK" | "SGD" | "THB" | "TWD" | "USD";
  state: "approved" | "cancelled" | "created" | "expired" | "fulfilled" | "paid" | "partially_refunded" | "refunded";
  refunded: number;
  approval_url: string | null;
  post_id: string | null;
  stream_id: string | null;
  message: string;
  created_at: number;
  updated_at: number;
  expires_at: number;
  history: OrderChange[];
}

export interface OrderChange {
  from_state: "approved" | "cancelled" | "created" | "expired" | "fulfilled" | "paid" | "partially_refunded" | "refunded" | null;
  to_state: "approved" | "cancelled" | "created" | "expired" | "fulfilled" | "paid" | "partially_refunded" | "refunded";
  cause: string;
  at: number;
}

export interface OrderPage {
  orders: OrderView[];
  next_cursor: string | null;
}

export interface Balances {
  balances: Balance[];
  payout_minimum: number;
}

export interface Balance {
  currency: "AUD" | "BRL" | "CAD" | "CHF" | "CZK" | "DKK" | "EUR" | "GBP" | "HKD" | "HUF" | "ILS" | "JPY" | "MXN" | "MYR" | "NOK" | "NZD" | "PHP" | "PLN" | "SEK" | "SGD" | "THB" | "TWD" | "USD";
  pending: number;
  available: number;
  in_payout: number;
}

export interface PayoutView {
  id: string;
  amount: number;
  currency: "AUD" | "BRL" | "CAD" | "CHF" | "CZK" | "DKK" | "EUR" | "GBP" | "HKD" | "HUF" | "ILS" | "JPY" | "MXN" | "MYR" | "NOK" | "NZD" | "PHP" | "PLN" | "SEK" | "SGD" | "THB" | "TWD" | "USD";
  paypal_email: string;
  status: "failed" | "requested" | "returned" | "sent" | "succeeded" | "unclaimed";
  failure: string | null;
  created_at: number;
  updated_at: number;
}

export interface PayoutPage {
  payouts: PayoutView[];
  next_cursor: string | null;
}

export interface ProfileUpdated {
  type: "profile.updated";
  user: Me;
}

export interface MessageNew {
  type: "message.new";
  message: MessageView;
}

export interface ConversationUpdated {
  type: "conversation.updated";
  conversation: ConversationView;
  removed: boolean;
}

export interface ReadReceipt {
  type: "receipt.read";
  conversation_id: string;
  user_id: string;
  seq: number;
}

export interface TypingEvent {
  type: "typing.started";
  conversation_id: string;
  user_id: string;
}

export interface PostNew {
  type: "post.new";
  post: PostView;
}

export interface PostUpdated {
  type: "post.updated";
  post: PostView;
}

export interface PostDeleted {
  type: "post.deleted";
  post_id: string;
}

export interface PostCounts {
  type: "post.counts";
  post_id: string;
  like_count: number;
  comment_count: number;
}

export interface CommentNew {
  type: "comment.new";
  comment: CommentView;
}

export interface CommentUpdated {
  type: "comment.updated";
  comment: CommentView;
}

export interface CommentDeleted {
  type: "comment.deleted";
  post_id: string;
  comment_id: string;
  tombstone: boolean;
}

export interface NotificationNew {
  type: "notification.new";
  notification: NotificationView;
}

export interface NotificationDeleted {
  type: "notification.deleted";
  notification_id: string;
}

export interface BadgeUpdated {
  type: "badge.updated";
  unread: number;
}

export interface StreamStarted {
  type: "stream.started";
  stream: StreamView;
}

export interface StreamUpdated {
  type: "stream.updated";
  stream: StreamView;
}

export interface StreamEnded {
  type: "stream.ended";
  stream: StreamView;
}

export interface StreamBanned {
  type: "stream.banned";
  stream_id: string;
}

export interface ChatBatch {
  type: "chat.updated";
  stream_id: string;
  lines: ChatLine[];
  reactions: ReactionCount[];
  deleted: string[];
}

export interface ReactionCount {
  reaction: "clap" | "fire" | "heart" | "laugh" | "wow";
  count: number;
}

export interface ChatPinned {
  type: "chat.pinned";
  stream_id: string;
  line: ChatLine | null;
}

export interface OrderUpdated {
  type: "order.updated";
  order: OrderView;
}

export interface PayoutUpdated {
  type: "payout.updated";
  payout: PayoutView;
}

export interface ReplyFrame {
  type: "reply";
  id: number;
  data: unknown;
}

export interface ErrorFrame {
  type: "error";
  id: number | null;
  code: string;
  message: string;
  retry_after: number | null;
}

export interface EventFrame {
  type: "event";
  seq: number;
  event: unknown;
}

export type Request =
  | Hello
  | Ping
  | Register
  | Login
  | Logout
  | LogoutAll
  | GetProfile
  | UpdateProfile
  | SearchUsers
  | BlockUser
  | UnblockUser
  | OpenDirect
  | CreateGroup
  | GetConversation
  | AddMembers
  | RemoveMember
  | LeaveConversation
  | ListConversations
  | SyncChanges
  | SendMessage
  | EditMessage
  | DeleteMessage
  | History
  | MessagesSince
  | MessagingMarkRead
  | Typing
  | Follow
  | Unfollow
  | Followers
  | Following
  | CreatePost
  | EditPost
  | DeletePost
  | GetPost
  | UserPosts
  | LikedPosts
  | HomeFeed
  | LikePost
  | UnlikePost
  | CreateComment
  | EditComment
  | DeleteComment
  | ListComments
  | LikeComment
  | UnlikeComment
  | WatchPosts
  | UnwatchPosts
  | ListNotifications
  | NotificationsMarkRead
  | GetSettings
  | UpdateSettings
  | Search
  | TrendTags
  | SuggestUsers
  | CreateReport
  | ListReports
  | Hide
  | Restore
  | Dismiss
  | Suspend
  | Unsuspend
  | AuditLog
  | ScheduleStream
  | StartStream
  | EndStream
  | GetStream
  | JoinStream
  | LeaveStream
  | ListViewers
  | RenewToken
  | SendChat
  | React
  | PinChat
  | DeleteChat
  | MuteChat
  | BanViewer
  | SetModerators
  | UpdateStream
  | LiveNow
  | ScheduledStreams
  | HostStreams
  | CreateProduct
  | EditProduct
  | DeleteProduct
  | GetProduct
  | ShopProducts
  | SearchProducts
  | CreateOrder
  | CreateTip
  | CaptureOrder
  | CancelOrder
  | FulfillOrder
  | RefundOrder
  | GetOrder
  | ListOrders
  | GetBalances
  | RequestPayout
  | ListPayouts
;

export type ServerEvent =
  | ProfileUpdated
  | MessageNew
  | ConversationUpdated
  | ReadReceipt
  | TypingEvent
  | PostNew
  | PostUpdated
  | PostDeleted
  | PostCounts
  | CommentNew
  | CommentUpdated
  | CommentDeleted
  | NotificationNew
  | NotificationDeleted
  | BadgeUpdated
  | StreamStarted
  | StreamUpdated
  | StreamEnded
  | StreamBanned
  | ChatBatch
  | ChatPinned
  | OrderUpdated
  | PayoutUpdated
;

export type ServerFrame =
  | ReplyFrame
  | ErrorFrame
  | EventFrame
;

export type RequestType = Request["type"];
export type EventType = ServerEvent["type"];

/** The struct a successful reply's `data` decodes into, per request type. */
export interface ReplyOf {
  "hello": Welcome;
  "ping": Pong;
  "auth.register": AuthOk;
  "auth.login": AuthOk;
  "auth.logout": Empty;
  "auth.logout_all": Revoked;
  "profile.get": UserProfile;
  "profile.update": Me;
  "user.search": UserList;
  "user.block": Empty;
  "user.unblock": Empty;
  "conversation.open_direct": ConversationView;
  "conversation.create_group": ConversationView;
  "conversation.get": ConversationView;
  "conversation.add_members": ConversationView;
  "conversation.remove_member": ConversationView;
  "conversation.leave": Empty;
  "conversation.list": ConversationList;
  "conversation.sync": Changes;
  "message.send": MessageAck;
  "message.edit": MessageAck;
  "message.delete": MessageAck;
  "message.history": MessageList;
  "message.since": MessageList;
  "conversation.mark_read": Empty;
  "typing.start": Empty;
  "follow.create": FollowResult;
  "follow.delete": FollowResult;
  "follow.list_followers": UserPage;
  "follow.list_following": UserPage;
  "post.create": PostView;
  "post.edit": PostView;
  "post.delete": Empty;
  "post.get": PostView;
  "post.by_user": PostPage;
  "post.liked": PostPage;
  "feed.home": PostPage;
  "post.like": LikeResult;
  "post.unlike": LikeResult;
  "comment.create": CommentView;
  "comment.edit": CommentView;
  "comment.delete": Empty;
  "comment.list": CommentPage;
  "comment.like": LikeResult;
  "comment.unlike": LikeResult;
  "post.watch": Watching;
  "post.unwatch": Watching;
  "notification.list": NotificationPage;
  "notification.mark_read": Badge;
  "notification.get_settings": NotificationSettings;
  "notification.update_settings": NotificationSettings;
  "search.query": SearchResults;
  "trend.tags": TrendingTags;
  "suggestion.users": Suggestions;
  "report.create": ReportAck;
  "admin.list_reports": ReportCasePage;
  "admin.hide": ModerationResult;
  "admin.restore": ModerationResult;
  "admin.dismiss": ModerationResult;
  "admin.suspend": ModerationResult;
  "admin.unsuspend": ModerationResult;
  "admin.audit_log": AuditPage;
  "stream.schedule": StreamView;
  "stream.start": HostedStream;
  "stream.end": StreamView;
  "stream.get": StreamView;
  "stream.join": JoinedStream;
  "stream.leave": Empty;
  "stream.list_viewers": ViewerPage;
  "stream.renew_token": LiveTokenView;
  "chat.send": ChatSent;
  "chat.react": Empty;
  "chat.pin": Empty;
  "chat.delete": Changed;
  "chat.mute": Empty;
  "stream.ban": Changed;
  "stream.set_moderators": StreamView;
  "stream.update": StreamView;
  "stream.list_live": StreamPage;
  "stream.list_scheduled": StreamPage;
  "stream.by_host": StreamPage;
  "product.create": ProductView;
  "product.edit": ProductView;
  "product.delete": Empty;
  "product.get": ProductView;
  "product.by_seller": ProductPage;
  "product.search": ProductPage;
  "order.create": OrderView;
  "tip.create": OrderView;
  "order.capture": OrderView;
  "order.cancel": OrderView;
  "order.fulfill": OrderView;
  "order.refund": OrderView;
  "order.get": OrderView;
  "order.list": OrderPage;
  "balance.get": Balances;
  "payout.request": PayoutView;
  "payout.list": PayoutPage;
}

/** A request as the app builds it: everything but the `id` the client assigns. */
export type Outgoing<T extends RequestType> = Omit<Extract<Request, { type: T }>, "id">;
