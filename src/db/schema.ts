// Kysely's view of the schema created by migrations/. Timestamps are read as bigint microseconds since the
// epoch (see parsers in database.ts) and written as RFC3339 strings or SQL expressions.
import type { ColumnType, Generated, Kysely, Selectable, Transaction } from 'kysely';

/** Microseconds since the Unix epoch. */
export type Micros = bigint;
type Timestamp = ColumnType<Micros, string | undefined, string>;
type NullableTimestamp = ColumnType<Micros | null, string | null | undefined, string | null>;
type Json<T> = ColumnType<T, string, string>;
type NullableJson<T> = ColumnType<T | null, string | null | undefined, string | null>;

export type JsonObject = { [key: string]: unknown };

export interface UsersTable {
  id: string;
  name: string | null;
  image: string | null;
  role: Generated<string>;
  language: Generated<string>;
  teams: Generated<string[]>;
  teams_role: NullableJson<Record<string, string>>;
  invisible: Generated<boolean>;
  privacy_settings: NullableJson<JsonObject>;
  custom: ColumnType<JsonObject, string | undefined, string>;
  banned: Generated<boolean>;
  shadow_banned: Generated<boolean>;
  bypass_moderation: Generated<boolean>;
  ban_expires: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_active: NullableTimestamp;
  deactivated_at: NullableTimestamp;
  deleted_at: NullableTimestamp;
  deletion: NullableJson<JsonObject>;
  deactivation: NullableJson<JsonObject>;
  revoke_tokens_issued_before: NullableTimestamp;
  /** The strongest deletion mode a DeleteUsers task has applied (and announced). */
  deletion_applied: string | null;
}

/** A user row as the stores return it: the table's columns plus the ids it blocks and presence (users/store/users.ts USER_COLUMNS). */
export type UserRow = Selectable<UsersTable> & { blocked_user_ids: string[]; online?: boolean };

export interface UserBlocksTable {
  user_id: string;
  blocked_user_id: string;
  created_at: Timestamp;
}

export interface AppSettingsTable {
  id: Generated<number>;
  generated_api_key: string | null;
  generated_api_secret: string | null;
  revoke_tokens_issued_before: NullableTimestamp;
  guest_user_creation_disabled: Generated<boolean>;
  enforce_unique_usernames: Generated<string>;
  multi_tenant_enabled: Generated<boolean>;
  tombstone_key: string | null;
  webhook_url: string | null;
  webhook_events: ColumnType<string[], string | undefined, string>;
  event_hooks: ColumnType<Array<Record<string, unknown>>, string | undefined, string>;
}

export interface UserTombstonesTable {
  /** HMAC-SHA256 of the user id under app_settings.tombstone_key, hex. */
  id_hash: string;
  deleted_at: Timestamp;
}

export interface SchemaMigrationsTable {
  version: string;
  applied_at: Timestamp;
}

export type TaskStatus = 'pending' | 'waiting' | 'running' | 'completed' | 'failed';

export interface TasksTable {
  id: string;
  type: string;
  status: ColumnType<TaskStatus, TaskStatus | undefined, TaskStatus>;
  payload: Json<JsonObject>;
  result: NullableJson<unknown>;
  error: NullableJson<{ type: string; description: string }>;
  attempts: Generated<number>;
  max_attempts: number;
  run_at: Timestamp;
  lease_owner: string | null;
  lease_expires_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ExportsTable {
  id: string;
  task_id: string;
  content: string;
  created_at: Timestamp;
  expires_at: ColumnType<Micros, string, string>;
}

export interface UserActivityTable {
  /** First day of the calendar month, as 'YYYY-MM-DD'. */
  month: ColumnType<Date | string, string, string>;
  user_id: string;
}

export interface UserConnectionsTable {
  id: string;
  user_id: string;
  connected_at: Timestamp;
  seen_at: Timestamp;
}

export interface WebhookDeliveriesTable {
  id: string;
  seq: Generated<number>;
  hook_id: string;
  user_id: string | null;
  event_type: string;
  /** The hook's URL when the event was recorded, without its query values (sends use the URL configured then). */
  url: string;
  body: string;
  ended_body: string | null;
  status: Generated<'pending' | 'sending' | 'delivered' | 'failed' | 'cancelled'>;
  attempts: Generated<number>;
  /** Set on the head of its hook and user's queue only; NULL while it waits behind an earlier one. */
  next_attempt_at: NullableTimestamp;
  lease_owner: string | null;
  lease_expires_at: NullableTimestamp;
  last_error: string | null;
  last_status: number | null;
  created_at: Timestamp;
  age_from: Timestamp;
  delivered_at: NullableTimestamp;
}

/** The last failure of each webhook hook, for the operator. */
export interface WebhookHookErrorsTable {
  hook_id: string;
  last_error: string;
  last_error_at: Timestamp;
}

/** Per-minute rate-limit counts shared by the instances of one PostgreSQL database (rate-limits/store.ts). */
export interface RateLimitCountersTable {
  bucket: string;
  minute: string | number;
  count: number;
}

/** Dashboard sessions signed out before they expired (dashboard/store.ts). */
export interface DashboardSignOutsTable {
  session_id: string;
  expires_at: Date | string;
}

export interface Database {
  dashboard_sign_outs: DashboardSignOutsTable;
  rate_limit_counters: RateLimitCountersTable;
  tasks: TasksTable;
  exports: ExportsTable;
  user_activity: UserActivityTable;
  user_connections: UserConnectionsTable;
  users: UsersTable;
  user_blocks: UserBlocksTable;
  user_tombstones: UserTombstonesTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_hook_errors: WebhookHookErrorsTable;
  app_settings: AppSettingsTable;
  schema_migrations: SchemaMigrationsTable;
}

/** The database handle. Reads take it; so do writes that are atomic on their own. */
export type Db = Kysely<Database>;

/**
 * An open transaction. A write that is only correct inside one (it validates after writing, or must see its own
 * locks) takes a Tx, so that the type system refuses the bare handle (Transaction is nominal: it has private fields).
 */
export type Tx = Transaction<Database>;
