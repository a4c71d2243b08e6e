/** Users, roles, resource groups and permissions (spec §11.1): /api/security/*. */
import { Type, type Static } from '@sinclair/typebox';
import { arrayOf, boolean, BooleanLike, collection, linksOf, numericId, object, ref, str, text } from './common.ts';
import { LoginUser } from './system.ts';

/** A user as /api/security/user lists it: the same record a login answers with. */
export const UserList = collection('users', LoginUser, 'Users.');
UserList.$id = 'UserList';

export const Role = object({
  links: linksOf(),
  id: numericId('Role id'),
  name: str(),
  description: str(),
  type: str('`BUILTIN` (cannot be changed) or `CUSTOM`.'),
  displayName: str(),
  rbacPath: str('`role:0/role:{id}`.'),
  permissionIds: arrayOf(str(), 'Permission keys, e.g. `appserver.view`, `policy.run` (GET /api/security/permission lists them).'),
}, 'A role: a named set of permissions.');
Role.$id = 'Role';
export type RoleWire = Static<typeof Role>;

export const RoleList = collection('roles', Role, 'Roles, the built-in ones first.');
RoleList.$id = 'RoleList';

export const ResourcePoolEntry = object({
  href: str('`.../api/appserver/{id}` for one application server, `.../api/hypervisor/{id}` for one hypervisor, `.../api/appserver` for all of them, now and later.'),
  type: str('`appserver`, `hypervisor` or `appserver.all`.'),
  id: Type.Optional(str('The application server id (type `appserver`).')),
  name: Type.Optional(str("The application server's name, when it is still registered.")),
}, 'One resource in a resource group.');

export const ResourcePool = object({
  links: linksOf(),
  id: numericId('Resource group id'),
  name: str(),
  description: str(),
  type: str('`BUILTIN` (cannot be changed) or `CUSTOM`.'),
  rbacPath: str('`resourcepool:0/resourcepool:{id}`.'),
  resources: arrayOf(ResourcePoolEntry),
}, 'A resource group: the application servers a role applies to.');
ResourcePool.$id = 'ResourcePool';
export type ResourcePoolWire = Static<typeof ResourcePool>;

export const ResourcePoolList = collection('resourcePools', ResourcePool, 'Resource groups, All Resources first.');
ResourcePoolList.$id = 'ResourcePoolList';

export const Permission = object({
  id: str('The key, e.g. `appserver.view`.'),
  description: str(),
  scoped: boolean('Limited by a resource group (true), or about Census as a whole.'),
}, 'A permission a role can hold.');
Permission.$id = 'Permission';
export type PermissionWire = Static<typeof Permission>;

export const PermissionList = object({
  links: linksOf(),
  total: Type.Integer(),
  page: Type.Integer(),
  permissions: arrayOf(Permission),
}, 'Every permission Census knows.');
PermissionList.$id = 'PermissionList';

/** GET /api/endeavour/session: who the session's user is and what they may do, for a UI to show only that. */
export const SessionUser = object({
  user: ref(LoginUser),
  permissionIds: arrayOf(str(), 'The permissions the user holds (on at least one resource group), sorted; a read-only API key holds only the `*.view` ones.'),
}, "The session's user and the permissions they hold (a Census addition).");
SessionUser.$id = 'SessionUser';
export type SessionUserWire = Static<typeof SessionUser>;

// ---- request bodies --------------------------------------------------------------------------

/** A reference by id or href (`{"href": ".../api/security/role/1002"}`, `{"id": 1002}`, `1002`). */
const Reference = Type.Union([
  Type.Object({ href: Type.Optional(Type.String()), id: Type.Optional(Type.Union([Type.String(), Type.Integer()])) }, { additionalProperties: true }),
  Type.String(),
  Type.Integer(),
]);

/** One permission set: a resource group and the roles held on it. */
const PermissionSetBody = Type.Object({
  resourcePoolId: Type.Optional(Type.Union([Type.String(), Type.Integer()])),
  resourcePool: Type.Optional(Reference),
  roleIds: Type.Optional(Type.Array(Type.Union([Type.String(), Type.Integer()]))),
  roles: Type.Optional(Type.Array(Reference)),
}, { additionalProperties: true, description: '`{"resourcePoolId": 1000, "roleIds": [1002]}` (or `resourcePool`/`roles` as references).' });

export const UserBody = Type.Object({
  name: text({ maxLength: 64 }),
  password: text({ maxLength: 1024, writeOnly: true, description: '8 to 1024 characters; the user must change it at the first login.' }),
  type: Type.Optional(text({ description: 'Only `NATIVE_USER` (directory users are made by their first login).' })),
  permissions: Type.Optional(Type.Array(PermissionSetBody)),
}, { additionalProperties: true, description: 'A new user.' });

export const UserUpdateBody = Type.Object({
  name: Type.Optional(text({ maxLength: 64 })),
  password: Type.Optional(text({ maxLength: 1024, writeOnly: true, description: 'A new password: the user must change it at the next login.' })),
  accountDisabled: Type.Optional(BooleanLike('Disable (true) or enable the user; a disabled user cannot log in and loses their sessions.')),
  permissions: Type.Optional(Type.Array(PermissionSetBody)),
}, { additionalProperties: true, description: 'What to change; what is left out stays.' });

export const ChangePasswordBody = Type.Object({
  oldPassword: text({ maxLength: 1024, writeOnly: true }),
  newPassword: text({ maxLength: 1024, writeOnly: true, description: '8 to 1024 characters.' }),
}, { additionalProperties: true });

export const RoleBody = Type.Object({
  name: text({ maxLength: 128 }),
  description: Type.Optional(text({ maxLength: 2000 })),
  permissionIds: Type.Array(Type.String()),
}, { additionalProperties: true });

export const RoleUpdateBody = Type.Partial(RoleBody, { additionalProperties: true });

const PoolResourceBody = Type.Union([
  Type.Object({ href: Type.String() }, { additionalProperties: true }),
  Type.String(),
], { description: '`{"href": ".../api/appserver/1001"}`, or `.../api/appserver` for every application server.' });

export const ResourcePoolBody = Type.Object({
  name: text({ maxLength: 128 }),
  description: Type.Optional(text({ maxLength: 2000 })),
  resources: Type.Array(PoolResourceBody),
}, { additionalProperties: true });

export const ResourcePoolUpdateBody = Type.Partial(ResourcePoolBody, { additionalProperties: true });
