export { detectorNames, detectors, secretDetectorNames, entropy, ibanValid, looksRandom, luhnValid, redactText, type Detector, type DetectorName, type Span } from './detectors.ts';
export { createRedactor, fieldPathRegex, secretKey, type RedactionOptions, type Redacted } from './redact.ts';
export { argumentsHmac, hmacDigestPattern } from './digest.ts';
