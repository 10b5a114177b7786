// Tool-definition pinning and poisoning detection (strategy document, risks 2 and 4): see README.md.
export { ToolPins, type PinCheck, type ToolPinsOptions } from './tool-pins.ts';
export { KubeToolPinStore, firstSightPin, toolPinResource, type ToolPinStore } from './store.ts';
export { toolDefinition, storableDefinition, pinnedFields, maxStoredDefinitionBytes, type ToolDefinition } from './definition.ts';
export { poisoningFindings, textFindings, foldText, poisoningLabel, type PoisoningFinding, type PoisoningKind } from './poisoning.ts';
