// What the dashboard keeps of its own: sessions signed out before they expired. A session is a signed token that
// every instance on the database would accept, so the sign-out is stored there and every instance refuses a copy of
// the cookie someone kept.
import type { Db } from '../db/schema.js';
import type { Session } from './session.js';
import { isSignedOut, recordSignOut } from './store.js';

export class SignedOutSessions {
  constructor(
    private readonly db: Db,
    /** The dashboard's clock, in ms (sessions expire by it). */
    private readonly now: () => number,
  ) {}

  end(session: Session): Promise<void> {
    return recordSignOut(this.db, session.sid, session.expiresAt, Math.floor(this.now() / 1000));
  }

  has(session: Session): Promise<boolean> {
    return isSignedOut(this.db, session.sid);
  }
}
