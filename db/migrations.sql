CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
    "MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
    "ProductVersion" TEXT NOT NULL
);

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "ApiKeys" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_ApiKeys" PRIMARY KEY AUTOINCREMENT,
    "KeyId" TEXT NOT NULL,
    "Name" TEXT NOT NULL,
    "Role" TEXT NOT NULL,
    "SecretHash" BLOB NOT NULL,
    "Created" INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS "AuditEntries" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_AuditEntries" PRIMARY KEY AUTOINCREMENT,
    "Actor" TEXT NOT NULL,
    "Time" INTEGER NOT NULL,
    "Operation" TEXT NOT NULL,
    "TargetType" TEXT NOT NULL,
    "TargetId" INTEGER NULL,
    "DvaId" INTEGER NULL,
    "Before" TEXT NULL,
    "After" TEXT NULL
);

CREATE TABLE IF NOT EXISTS "Dvas" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Dvas" PRIMARY KEY AUTOINCREMENT,
    "Name" TEXT NOT NULL,
    "Description" TEXT NOT NULL,
    "ServiceKind" TEXT NOT NULL,
    "BucketCount" INTEGER NOT NULL,
    "Seed" INTEGER NOT NULL,
    "TunnelPort" INTEGER NOT NULL,
    "SecureTunnel" INTEGER NOT NULL,
    "FirewallDefaultPolicy" TEXT NOT NULL,
    "MidStreamPolicy" TEXT NOT NULL,
    "MinDataPlanes" INTEGER NOT NULL,
    "MaxDataPlanes" INTEGER NOT NULL,
    "TargetUtilizationPercent" INTEGER NOT NULL,
    "DesiredDataPlanes" INTEGER NOT NULL,
    "FirewallRulesVersion" INTEGER NOT NULL,
    "Version" INTEGER NOT NULL,
    "Generation" INTEGER NOT NULL,
    "ObservedGeneration" INTEGER NOT NULL,
    "OperatingStatus" TEXT NOT NULL,
    "ConditionsJson" TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS "FirewallRules" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_FirewallRules" PRIMARY KEY AUTOINCREMENT,
    "Priority" INTEGER NOT NULL,
    "Action" TEXT NOT NULL,
    "Protocol" TEXT NOT NULL,
    "Source" TEXT NOT NULL,
    "Destination" TEXT NOT NULL,
    "SourcePorts" TEXT NOT NULL,
    "DestinationPorts" TEXT NOT NULL,
    "IngressIfid" INTEGER NULL,
    "IcmpType" INTEGER NULL,
    "Enabled" INTEGER NOT NULL,
    "Description" TEXT NOT NULL,
    "Version" INTEGER NOT NULL,
    "Generation" INTEGER NOT NULL,
    "ObservedGeneration" INTEGER NOT NULL,
    "OperatingStatus" TEXT NOT NULL,
    "ConditionsJson" TEXT NOT NULL,
    "DvaId" INTEGER NOT NULL,
    CONSTRAINT "FK_FirewallRules_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS "Nodes" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Nodes" PRIMARY KEY AUTOINCREMENT,
    "Name" TEXT NOT NULL,
    "DvaId" INTEGER NULL,
    "Role" TEXT NOT NULL,
    "NodeId" INTEGER NOT NULL,
    "TunnelEndpoint" TEXT NOT NULL,
    "State" TEXT NOT NULL,
    "LastHeartbeat" INTEGER NULL,
    "MeasuredCapacity" REAL NOT NULL,
    "Weight" INTEGER NOT NULL,
    "Version" INTEGER NOT NULL,
    "Generation" INTEGER NOT NULL,
    "ObservedGeneration" INTEGER NOT NULL,
    "OperatingStatus" TEXT NOT NULL,
    "ConditionsJson" TEXT NOT NULL,
    CONSTRAINT "FK_Nodes_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE SET NULL
);

CREATE TABLE IF NOT EXISTS "Pools" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Pools" PRIMARY KEY AUTOINCREMENT,
    "Name" TEXT NOT NULL,
    "Method" TEXT NOT NULL,
    "Version" INTEGER NOT NULL,
    "Generation" INTEGER NOT NULL,
    "ObservedGeneration" INTEGER NOT NULL,
    "OperatingStatus" TEXT NOT NULL,
    "ConditionsJson" TEXT NOT NULL,
    "DvaId" INTEGER NOT NULL,
    CONSTRAINT "FK_Pools_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS "SharedInterfaces" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_SharedInterfaces" PRIMARY KEY AUTOINCREMENT,
    "Ifid" INTEGER NOT NULL,
    "Name" TEXT NOT NULL,
    "Mac" TEXT NOT NULL,
    "Addresses" TEXT NOT NULL,
    "AttachmentNodeName" TEXT NOT NULL,
    "AttachmentFrameSource" TEXT NOT NULL,
    "Version" INTEGER NOT NULL,
    "Generation" INTEGER NOT NULL,
    "ObservedGeneration" INTEGER NOT NULL,
    "OperatingStatus" TEXT NOT NULL,
    "ConditionsJson" TEXT NOT NULL,
    "DvaId" INTEGER NOT NULL,
    CONSTRAINT "FK_SharedInterfaces_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS "StaticRoutes" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_StaticRoutes" PRIMARY KEY AUTOINCREMENT,
    "Prefix" TEXT NOT NULL,
    "NextHop" TEXT NOT NULL,
    "Ifid" INTEGER NOT NULL,
    "Version" INTEGER NOT NULL,
    "Generation" INTEGER NOT NULL,
    "ObservedGeneration" INTEGER NOT NULL,
    "OperatingStatus" TEXT NOT NULL,
    "ConditionsJson" TEXT NOT NULL,
    "DvaId" INTEGER NOT NULL,
    CONSTRAINT "FK_StaticRoutes_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS "TableVersions" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_TableVersions" PRIMARY KEY AUTOINCREMENT,
    "DvaId" INTEGER NOT NULL,
    "TableVersion" INTEGER NOT NULL,
    "Era" INTEGER NOT NULL,
    "Cause" TEXT NOT NULL,
    "Actor" TEXT NOT NULL,
    "Created" INTEGER NOT NULL,
    "RolledOut" INTEGER NULL,
    "Snapshot" BLOB NOT NULL,
    CONSTRAINT "FK_TableVersions_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS "Members" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Members" PRIMARY KEY AUTOINCREMENT,
    "PoolId" INTEGER NOT NULL,
    "Address" TEXT NOT NULL,
    "Port" INTEGER NOT NULL,
    "Weight" INTEGER NOT NULL,
    "AdminState" TEXT NOT NULL,
    "Health" TEXT NOT NULL,
    "Version" INTEGER NOT NULL,
    "Generation" INTEGER NOT NULL,
    "ObservedGeneration" INTEGER NOT NULL,
    "OperatingStatus" TEXT NOT NULL,
    "ConditionsJson" TEXT NOT NULL,
    "DvaId" INTEGER NOT NULL,
    CONSTRAINT "FK_Members_Pools_PoolId" FOREIGN KEY ("PoolId") REFERENCES "Pools" ("Id") ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS "Vips" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Vips" PRIMARY KEY AUTOINCREMENT,
    "Name" TEXT NOT NULL,
    "Address" TEXT NOT NULL,
    "Port" INTEGER NOT NULL,
    "Protocol" TEXT NOT NULL,
    "PoolId" INTEGER NOT NULL,
    "Version" INTEGER NOT NULL,
    "Generation" INTEGER NOT NULL,
    "ObservedGeneration" INTEGER NOT NULL,
    "OperatingStatus" TEXT NOT NULL,
    "ConditionsJson" TEXT NOT NULL,
    "DvaId" INTEGER NOT NULL,
    CONSTRAINT "FK_Vips_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE,
    CONSTRAINT "FK_Vips_Pools_PoolId" FOREIGN KEY ("PoolId") REFERENCES "Pools" ("Id") ON DELETE RESTRICT
);

CREATE UNIQUE INDEX IF NOT EXISTS "IX_ApiKeys_KeyId" ON "ApiKeys" ("KeyId");

CREATE INDEX IF NOT EXISTS "IX_AuditEntries_DvaId_Id" ON "AuditEntries" ("DvaId", "Id");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_Dvas_Name" ON "Dvas" ("Name");

CREATE INDEX IF NOT EXISTS "IX_FirewallRules_DvaId_Priority" ON "FirewallRules" ("DvaId", "Priority");

CREATE INDEX IF NOT EXISTS "IX_Members_DvaId" ON "Members" ("DvaId");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_Members_PoolId_Address_Port" ON "Members" ("PoolId", "Address", "Port");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_Nodes_DvaId_NodeId" ON "Nodes" ("DvaId", "NodeId");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_Nodes_Name" ON "Nodes" ("Name");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_Pools_DvaId_Name" ON "Pools" ("DvaId", "Name");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_SharedInterfaces_DvaId_Ifid" ON "SharedInterfaces" ("DvaId", "Ifid");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_SharedInterfaces_DvaId_Name" ON "SharedInterfaces" ("DvaId", "Name");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_StaticRoutes_DvaId_Prefix" ON "StaticRoutes" ("DvaId", "Prefix");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_TableVersions_DvaId_TableVersion" ON "TableVersions" ("DvaId", "TableVersion");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_Vips_DvaId_Address_Port_Protocol" ON "Vips" ("DvaId", "Address", "Port", "Protocol");

CREATE UNIQUE INDEX IF NOT EXISTS "IX_Vips_DvaId_Name" ON "Vips" ("DvaId", "Name");

CREATE INDEX IF NOT EXISTS "IX_Vips_PoolId" ON "Vips" ("PoolId");

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261126093021_Initial', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "FleetMarks" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_FleetMarks" PRIMARY KEY AUTOINCREMENT,
    "DvaId" INTEGER NOT NULL,
    "NodeKey" INTEGER NULL,
    "Kind" TEXT NOT NULL,
    "Since" INTEGER NOT NULL,
    CONSTRAINT "FK_FleetMarks_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE,
    CONSTRAINT "FK_FleetMarks_Nodes_NodeKey" FOREIGN KEY ("NodeKey") REFERENCES "Nodes" ("Id") ON DELETE CASCADE
);

CREATE UNIQUE INDEX IF NOT EXISTS "IX_FleetMarks_DvaId_Kind_NodeKey" ON "FleetMarks" ("DvaId", "Kind", "NodeKey");

CREATE INDEX IF NOT EXISTS "IX_FleetMarks_NodeKey" ON "FleetMarks" ("NodeKey");

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261126115832_FleetState', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "DvaTunnels" (
    "DvaId" INTEGER NOT NULL CONSTRAINT "PK_DvaTunnels" PRIMARY KEY,
    "Security" TEXT NOT NULL,
    "Cipher" TEXT NOT NULL,
    "ProtectedKeys" TEXT NULL,
    CONSTRAINT "FK_DvaTunnels_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE
);

INSERT OR IGNORE INTO "DvaTunnels" ("DvaId", "Security", "Cipher") SELECT "Id", CASE WHEN "SecureTunnel" <> 0 THEN 'Authenticated' ELSE 'Plain' END, 'AesGcm' FROM "Dvas";

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261126122426_TunnelSecurity', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "DvaDataPlanes" (
    "DvaId" INTEGER NOT NULL CONSTRAINT "PK_DvaDataPlanes" PRIMARY KEY,
    "Engines" INTEGER NOT NULL,
    CONSTRAINT "FK_DvaDataPlanes_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE
);

INSERT OR IGNORE INTO "DvaDataPlanes" ("DvaId", "Engines") SELECT "Id", 1 FROM "Dvas";

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261127033413_DataPlaneEngines', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "DvaDispatchers" (
    "DvaId" INTEGER NOT NULL CONSTRAINT "PK_DvaDispatchers" PRIMARY KEY,
    "Engines" INTEGER NOT NULL,
    CONSTRAINT "FK_DvaDispatchers_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE
);

INSERT OR IGNORE INTO "DvaDispatchers" ("DvaId", "Engines") SELECT "Id", 1 FROM "Dvas";

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261127063901_DispatcherEngines', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "DvaOffloads" (
    "DvaId" INTEGER NOT NULL CONSTRAINT "PK_DvaOffloads" PRIMARY KEY,
    "SuperFrames" INTEGER NOT NULL,
    CONSTRAINT "FK_DvaOffloads_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE
);

INSERT OR IGNORE INTO "DvaOffloads" ("DvaId", "SuperFrames") SELECT "Id", 0 FROM "Dvas";

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261127084848_SuperFrames', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "SharedInterfaceTrunks" (
    "InterfaceId" INTEGER NOT NULL CONSTRAINT "PK_SharedInterfaceTrunks" PRIMARY KEY,
    "Vlans" TEXT NOT NULL,
    CONSTRAINT "FK_SharedInterfaceTrunks_SharedInterfaces_InterfaceId" FOREIGN KEY ("InterfaceId") REFERENCES "SharedInterfaces" ("Id") ON DELETE CASCADE
);

INSERT OR IGNORE INTO "SharedInterfaceTrunks" ("InterfaceId", "Vlans") SELECT "Id", '[]' FROM "SharedInterfaces";

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261127170926_InterfaceTrunks', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "SharedInterfaceIpv6Routers" (
    "InterfaceId" INTEGER NOT NULL CONSTRAINT "PK_SharedInterfaceIpv6Routers" PRIMARY KEY,
    "RouterAdvertisements" INTEGER NOT NULL,
    CONSTRAINT "FK_SharedInterfaceIpv6Routers_SharedInterfaces_InterfaceId" FOREIGN KEY ("InterfaceId") REFERENCES "SharedInterfaces" ("Id") ON DELETE CASCADE
);

INSERT OR IGNORE INTO "SharedInterfaceIpv6Routers" ("InterfaceId", "RouterAdvertisements") SELECT "Id", 0 FROM "SharedInterfaces";

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261127193426_InterfaceIpv6Routers', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "SharedInterfaceSubInterfaces" (
    "Vlan" INTEGER NOT NULL,
    "InterfaceId" INTEGER NOT NULL,
    "Addresses" TEXT NOT NULL,
    CONSTRAINT "PK_SharedInterfaceSubInterfaces" PRIMARY KEY ("InterfaceId", "Vlan"),
    CONSTRAINT "FK_SharedInterfaceSubInterfaces_SharedInterfaces_InterfaceId" FOREIGN KEY ("InterfaceId") REFERENCES "SharedInterfaces" ("Id") ON DELETE CASCADE
);

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261127214403_InterfaceSubInterfaces', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "SharedInterfaceHostConfigurations" (
    "InterfaceId" INTEGER NOT NULL CONSTRAINT "PK_SharedInterfaceHostConfigurations" PRIMARY KEY,
    "Dhcpv6" TEXT NOT NULL,
    "DnsServers" TEXT NOT NULL,
    "DnsSearch" TEXT NOT NULL,
    CONSTRAINT "FK_SharedInterfaceHostConfigurations_SharedInterfaces_InterfaceId" FOREIGN KEY ("InterfaceId") REFERENCES "SharedInterfaces" ("Id") ON DELETE CASCADE
);

INSERT OR IGNORE INTO "SharedInterfaceHostConfigurations" ("InterfaceId", "Dhcpv6", "DnsServers", "DnsSearch") SELECT "Id", 'none', '[]', '[]' FROM "SharedInterfaces";

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261127220947_InterfaceHostConfigurations', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "FirewallRuleVlans" (
    "RuleId" INTEGER NOT NULL CONSTRAINT "PK_FirewallRuleVlans" PRIMARY KEY,
    "IngressVlan" INTEGER NULL,
    CONSTRAINT "FK_FirewallRuleVlans_FirewallRules_RuleId" FOREIGN KEY ("RuleId") REFERENCES "FirewallRules" ("Id") ON DELETE CASCADE
);

INSERT OR IGNORE INTO "FirewallRuleVlans" ("RuleId", "IngressVlan") SELECT "Id", NULL FROM "FirewallRules";

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261127223134_FirewallRuleVlans', '10.0.15');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE IF NOT EXISTS "DvaShortcuts" (
    "DvaId" INTEGER NOT NULL CONSTRAINT "PK_DvaShortcuts" PRIMARY KEY,
    "Enabled" INTEGER NOT NULL,
    CONSTRAINT "FK_DvaShortcuts_Dvas_DvaId" FOREIGN KEY ("DvaId") REFERENCES "Dvas" ("Id") ON DELETE CASCADE
);

INSERT OR IGNORE INTO "DvaShortcuts" ("DvaId", "Enabled") SELECT "Id", 0 FROM "Dvas";

INSERT OR IGNORE INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20261128001904_DvaShortcuts', '10.0.15');

COMMIT;

