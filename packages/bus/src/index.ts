export { BusError, NonRetryableError } from "./errors.js";
export type { BusErrorCode } from "./errors.js";
export { MemoryInbox, inboxAdd } from "./inbox.js";
export type { Inbox, MemoryInboxOptions } from "./inbox.js";
export type {
  EventBus,
  EventHandler,
  HandlerContext,
  PublishOptions,
  PublishReceipt,
  SubscribeOptions,
  Subscription,
  DeadLetter,
  DeadLetterReason,
  ListDeadLettersOptions,
  BusStats,
  ConsumerBacklog,
} from "./port.js";
export { settlementFor, resolvePolicy } from "./runner.js";
export type { Settlement, HandlerResult, RetryPolicy, Delivery, DeadLetterDraft } from "./runner.js";
export { MemoryBus } from "./memory-bus.js";
export type { MemoryBusOptions } from "./memory-bus.js";
export { NatsBus, connectNatsBus } from "./nats-bus.js";
export type { NatsBusOptions } from "./nats-bus.js";
export { ServiceBusBus, connectServiceBusBus } from "./servicebus-bus.js";
export type { ServiceBusBusOptions } from "./servicebus-bus.js";
export { ensureServiceBusTopology, EVENT_TYPE_PROPERTY, REPLAY_GROUP_PROPERTY } from "./servicebus-topology.js";
export type { EnsureTopologyOptions, GroupTopology, ServiceBusAccess, ServiceBusEntitySettings } from "./servicebus-topology.js";
