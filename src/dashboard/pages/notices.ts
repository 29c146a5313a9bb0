// What the page after an action says happened: a fixed text per code (a redirect carries the code, never free text).
export const NOTICES: Record<string, string> = {
  edited: 'The user was updated.',
  deactivated: 'The user was deactivated.',
  reactivated: 'The user was reactivated.',
  restored: 'The user was restored.',
  'restored-many': 'The users were restored.',
  revoked: 'Tokens issued before now are revoked for this user.',
  unrevoked: 'The token revocation of this user was lifted.',
  unchanged: 'Nothing was changed.',
  saved: 'The settings were saved.',
  'webhooks-retried': 'The failed deliveries are due again now.',
  'webhooks-cancelled': 'The pending deliveries were cancelled.',
};

export function noticeFor(code: string | undefined): string | undefined {
  return code !== undefined && Object.hasOwn(NOTICES, code) ? NOTICES[code] : undefined;
}
