-- Name $autocomplete in the default order (created_at DESC, id DESC) when a prefix matches a few thousand users:
-- users_name_words_idx (GIN) finds the matches but not their order, so every match's row was read and sorted
-- (2,000 matches: 2,000 heap pages, about 3 ms). This table holds each word (lexeme) of each user's name with the
-- user's created_at: a range scan of its primary key finds the matches of a prefix with their order, without reading
-- the users rows, and only a page of them is then read (src/users/store/query.ts, plan 'word-list'). The query still
-- tests every row it returns against the name's tsvector, so the table narrows the search and never decides a match.
-- Kept by statement-level triggers on users (every writer: upserts, partial updates, imports, guests, deletions).
-- Statements are separated by a semicolon at the end of a line (see src/db/migrate.ts).
CREATE TABLE user_name_words (
  word text COLLATE "C" NOT NULL,
  created_at timestamptz NOT NULL,
  user_id text NOT NULL,
  PRIMARY KEY (word, created_at, user_id)
);

CREATE FUNCTION stream_name_words_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO user_name_words (word, created_at, user_id)
  SELECT DISTINCT w.word, n.created_at, n.id
  FROM new_rows n, unnest(tsvector_to_array(to_tsvector('simple', coalesce(n.name, '')))) AS w(word)
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;

-- Rows whose name or created_at changed: their old words go, their new ones come. One indexed statement per changed
-- row (a set-based delete over the transition tables was planned as a scan of the whole word table); an update
-- that changes no name (most upserts) costs one join of the transition tables.
CREATE FUNCTION stream_name_words_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT o.id, o.name AS old_name, o.created_at AS old_at, n.name AS new_name, n.created_at AS new_at
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE n.name IS DISTINCT FROM o.name OR n.created_at <> o.created_at
  LOOP
    DELETE FROM user_name_words
    WHERE word = ANY (tsvector_to_array(to_tsvector('simple', coalesce(r.old_name, ''))))
      AND created_at = r.old_at AND user_id = r.id;
    INSERT INTO user_name_words (word, created_at, user_id)
    SELECT w.word, r.new_at, r.id FROM unnest(tsvector_to_array(to_tsvector('simple', coalesce(r.new_name, '')))) AS w(word)
    ON CONFLICT DO NOTHING;
  END LOOP;
  RETURN NULL;
END
$$;

CREATE FUNCTION stream_name_words_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT o.id, o.name, o.created_at FROM old_rows o LOOP
    DELETE FROM user_name_words
    WHERE word = ANY (tsvector_to_array(to_tsvector('simple', coalesce(r.name, ''))))
      AND created_at = r.created_at AND user_id = r.id;
  END LOOP;
  RETURN NULL;
END
$$;

-- A DELETE, not a TRUNCATE: a TRUNCATE that lists both tables (a clear empties every data table in one statement)
-- cannot truncate the word list again from its trigger; the list is already empty then, and the DELETE finds nothing.
CREATE FUNCTION stream_name_words_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM user_name_words;
  RETURN NULL;
END
$$;

CREATE TRIGGER users_name_words_insert AFTER INSERT ON users
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stream_name_words_insert();

CREATE TRIGGER users_name_words_update AFTER UPDATE ON users
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stream_name_words_update();

CREATE TRIGGER users_name_words_delete AFTER DELETE ON users
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stream_name_words_delete();

CREATE TRIGGER users_name_words_truncate AFTER TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION stream_name_words_truncate();

INSERT INTO user_name_words (word, created_at, user_id)
SELECT DISTINCT w.word, u.created_at, u.id
FROM users u, unnest(tsvector_to_array(to_tsvector('simple', coalesce(u.name, '')))) AS w(word);
