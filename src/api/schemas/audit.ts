/** The audit log (GET /api/endeavour/log/audit): who did what, when, from where, and how it ended. */
import type { Static } from '@sinclair/typebox';
import { collection, epochMs, numericId, object, oneOf, openObject, orNull, str } from './common.ts';

export const AuditEntry = object({
  id: numericId('Entry id, in the order entries were written'),
  accessTime: epochMs('When'),
  logTime: epochMs('The same as accessTime, under the job log\'s name'),
  user: str('Who: the user name (as typed, for a failed login), or the part of Census that acted (`scheduler`).'),
  userId: orNull(numericId('User id; null for Census itself and for failed logins')),
  userIp: orNull(str('The source address of the request; null for Census itself.')),
  action: str('What was done: `login`, `logout`, `user.create`, `appserver.register`, `job.start`, `request` (refused before a use case ran), …'),
  targetType: orNull(str('What kind of thing it was done to: `user`, `role`, `resourcepool`, `apikey`, `appserver`, `identity`, `job`, `jobsession`, `route`.')),
  targetId: orNull(str('The id of the thing.')),
  target: orNull(str('Its name, when known.')),
  outcome: oneOf(['success', 'failure']),
  detail: orNull(openObject('More: the fields a change set (names, never values), the error code of a failure, a trigger.')),
  description: str('The entry in one line, for people.'),
}, 'One audit log entry.');
AuditEntry.$id = 'AuditEntry';
export type AuditEntryWire = Static<typeof AuditEntry>;

export const AuditList = collection('logs', AuditEntry, 'Audit log entries.');
AuditList.$id = 'AuditList';
