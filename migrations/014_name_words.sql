-- Name $autocomplete in the default order (created_at DESC, id DESC) when a prefix matches a few thousand users:
-- users_name_words_idx (GIN) finds the matches but not their order, so every match's row was read and sorted
-- (2,000 matches: 2,000 heap pages, about 3 ms). This table holds each word (lexeme) of each user's name with the
-- user's created_at: a range scan of its primary key finds the matches of a prefix with their order, without reading
-- the users rows, and only a page of them is then read (src/users/store/query.ts, plan 'word-list'). The query still
-- tests every row it returns against the name's tsvector, so the table narrows the search and never decides a match.
-- Kept by triggers on users (every writer: upserts, partial updates, imports, guests, deletions).
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
  -- A tsvector's lexemes are distinct: no DISTINCT needed.
  INSERT INTO user_name_words (word, created_at, user_id)
  SELECT w.word, n.created_at, n.id
  FROM new_rows n, unnest(tsvector_to_array(to_tsvector('simple', coalesce(n.name, '')))) AS w(word)
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;

-- A row whose name or created_at changed, or that was deleted: its old words go, and an updated row's new ones come.
-- Row-level, with the update's test in its trigger's WHEN (evaluated without calling the function): an update that
-- keeps the name, as most upserts do, costs nothing here.
CREATE FUNCTION stream_name_words_replace() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM user_name_words
  WHERE word = ANY (tsvector_to_array(to_tsvector('simple', coalesce(OLD.name, ''))))
    AND created_at = OLD.created_at AND user_id = OLD.id;
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO user_name_words (word, created_at, user_id)
    SELECT w.word, NEW.created_at, NEW.id FROM unnest(tsvector_to_array(to_tsvector('simple', coalesce(NEW.name, '')))) AS w(word)
    ON CONFLICT DO NOTHING;
  END IF;
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

CREATE TRIGGER users_name_words_update AFTER UPDATE OF name, created_at ON users
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.created_at IS DISTINCT FROM NEW.created_at)
  EXECUTE FUNCTION stream_name_words_replace();

CREATE TRIGGER users_name_words_delete AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION stream_name_words_replace();

CREATE TRIGGER users_name_words_truncate AFTER TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION stream_name_words_truncate();

INSERT INTO user_name_words (word, created_at, user_id)
SELECT w.word, u.created_at, u.id
FROM users u, unnest(tsvector_to_array(to_tsvector('simple', coalesce(u.name, '')))) AS w(word);
