export { isStatelessRequest, modernVersionOf, statelessProtocolVersions } from './classify.ts';
export { cacheableMethods, handleStateless, statelessPassMethods } from './handler.ts';
export { modernToolLister } from './lister.ts';
