import { randomBytes } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { briefReferences, type Brief } from '@aiprod/contracts';
import type { ApiKeyScope, AssetRecord, AssetStore } from '@aiprod/job-store';
import { audioFileInfo, stillImageInfo } from '@aiprod/media';
import { tenantAssetKey, type BlobStore } from '@aiprod/storage';
import { parseBrief, type BriefOptions } from '../brief';
import { HttpProblem } from '../problem';
import { tenantOf } from '../request';

/**
 * Every vendor's reference-image limit is below it, and it holds a minute of music at 320 kb/s
 * many times over; the planner caps a URL reference or music file the same.
 */
export const ASSET_MAX_BYTES = 10 * 1024 * 1024;
const IMAGES = ['image/png', 'image/jpeg', 'image/webp'] as const;
const AUDIO = ['audio/mpeg', 'audio/wav', 'audio/mp4', 'audio/ogg', 'audio/flac'] as const;
const ACCEPTED = [...IMAGES, ...AUDIO] as const;
export const ASSET_MEDIA_TYPES: readonly string[] = ACCEPTED;
const ASSET_ID = /^asset_[0-9a-f]{24}$/;

export interface AssetRoutesDeps {
  assets: AssetStore;
  storage: BlobStore;
  requireScope: (scope: ApiKeyScope) => RequestHandler;
}

/** What the bytes are, by their own header: an image with its size, or an audio file. */
function sniff(bytes: Buffer): { contentType: (typeof ACCEPTED)[number]; width?: number; height?: number } | null {
  const image = stillImageInfo(bytes);
  if (image) return { contentType: image.contentType, width: image.width, height: image.height };
  const audio = audioFileInfo(bytes);
  return audio ? { contentType: audio.contentType } : null;
}

const newAssetId = () => `asset_${randomBytes(12).toString('hex')}`;

export const AssetViewSchema = Type.Object(
  {
    assetId: Type.String({
      pattern: '^asset_[0-9a-f]{24}$',
      description: 'Name it in a brief: referenceImages[].assetId (an image) or music.assetId (audio).',
    }),
    contentType: Type.Union(
      ACCEPTED.map((t) => Type.Literal(t)),
      { description: 'The format read from the bytes.' },
    ),
    sizeBytes: Type.Integer({ minimum: 1 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    width: Type.Optional(Type.Integer({ minimum: 1, description: 'Images only.' })),
    height: Type.Optional(Type.Integer({ minimum: 1, description: 'Images only.' })),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false, description: 'An uploaded reference image or music file.' },
);

export const assetView = (a: AssetRecord): Static<typeof AssetViewSchema> => ({
  assetId: a.assetId,
  contentType: a.contentType,
  sizeBytes: a.sizeBytes,
  sha256: a.sha256,
  ...(a.width !== undefined && a.height !== undefined ? { width: a.width, height: a.height } : {}),
  createdAt: a.createdAt.toDate().toISOString(),
});

/**
 * Uploads of reference images (POST /v1/assets) and their metadata. Mounted before the gateway's
 * JSON-only rule: the body is the image itself. The declared type must be one of the three
 * formats (415); the bytes must then be that format by their own header, whatever the header
 * says (422), with a readable size; more than 10 MB is 413, refused from Content-Length before
 * the body is read when it is declared.
 */
export function assetRoutes(deps: AssetRoutesDeps): Router {
  const router = Router();
  const imageBody = express.raw({ type: () => true, limit: ASSET_MAX_BYTES });

  const declaredType: RequestHandler = (req, _res, next) => {
    const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!(ACCEPTED as readonly string[]).includes(type)) {
      return next(
        new HttpProblem('unsupported_media_type', `upload an image or audio file as one of ${ACCEPTED.join(', ')}`, {
          errors: [{ field: '/headers/content-type', rule: 'enum', message: `must be one of ${ACCEPTED.join(', ')}` }],
        }),
      );
    }
    if (Number(req.get('content-length') ?? 0) > ASSET_MAX_BYTES) return next(tooLarge());
    next();
  };
  // The raw parser's own errors, said in this route's terms (the app's handler speaks of JSON).
  const parse: RequestHandler = (req, res, next) =>
    imageBody(req, res, (err?: unknown) => {
      const type = (err as { type?: string } | undefined)?.type;
      if (type === 'entity.too.large') return next(tooLarge());
      if (type === 'encoding.unsupported')
        return next(new HttpProblem('unsupported_media_type', 'send the image uncompressed (no Content-Encoding)'));
      next(err);
    });

  router.post(
    '/v1/assets',
    deps.requireScope('jobs:write'),
    declaredType,
    parse,
    async (req: Request, res: Response, next: NextFunction) => {
      const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const declared = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      const file = sniff(bytes);
      if (!file || file.contentType !== declared) {
        return next(
          new HttpProblem('unprocessable', `the body is not a readable ${declared} file`, {
            errors: [
              {
                field: '/body',
                rule: 'fileFormat',
                message: file
                  ? `is a ${file.contentType} file, not ${declared}`
                  : 'is not a PNG, JPEG or WebP image, nor an MP3, WAV, M4A, Ogg or FLAC file (judged by its bytes)',
              },
            ],
          }),
        );
      }
      const tenantId = tenantOf(req);
      const assetId = newAssetId();
      const path = tenantAssetKey(tenantId, assetId);
      const put = await deps.storage.putBytes(path, bytes, { contentType: file.contentType });
      // Stored first, recorded second: a record never names bytes that are not there.
      const record = await deps.assets.create({
        assetId,
        tenantId,
        contentType: file.contentType,
        sizeBytes: put.sizeBytes,
        sha256: put.sha256,
        ...(file.width !== undefined ? { width: file.width, height: file.height } : {}),
        path,
      });
      res.status(201).location(`/v1/assets/${assetId}`).json(assetView(record));
    },
  );

  router.get('/v1/assets/:id', deps.requireScope('jobs:read'), async (req, res) => {
    const id = String(req.params.id);
    // Another tenant's asset answers exactly like a missing one.
    const asset = ASSET_ID.test(id) ? await deps.assets.get(tenantOf(req), id) : null;
    if (!asset) throw new HttpProblem('not_found', `no asset ${ASSET_ID.test(id) ? id : '(malformed id)'}`);
    res.json(assetView(asset));
  });

  return router;
}

const tooLarge = () =>
  new HttpProblem('payload_too_large', `the image is larger than ${ASSET_MAX_BYTES / (1024 * 1024)} MB`);

/**
 * Refuses a brief naming an asset id the caller's tenant does not own, or one of the wrong kind
 * (an audio file as a reference image, an image as music): 422, naming the field
 * (`/referenceImages/2/assetId`, `/music/assetId`). Another tenant's asset reads exactly like a
 * missing one.
 */
export async function checkBriefAssets(assets: AssetStore, tenantId: string, brief: Brief): Promise<void> {
  const named = [
    ...briefReferences(brief).flatMap((r, i) =>
      r.kind === 'asset' ? [{ field: `/referenceImages/${i}/assetId`, assetId: r.assetId, kind: 'image' }] : [],
    ),
    ...(brief.music && 'assetId' in brief.music
      ? [{ field: '/music/assetId', assetId: brief.music.assetId, kind: 'audio' }]
      : []),
  ];
  if (!named.length) return;
  const owned = await assets.getMany(
    tenantId,
    named.map((n) => n.assetId),
  );
  const errors = named.flatMap((n) => {
    const asset = owned.get(n.assetId);
    if (!asset)
      return [
        {
          field: n.field,
          rule: 'ownedAsset',
          message: 'is not an asset of this tenant (upload it with POST /v1/assets)',
        },
      ];
    if (!asset.contentType.startsWith(`${n.kind}/`))
      return [{ field: n.field, rule: 'assetKind', message: `is a ${asset.contentType} file, not an ${n.kind} file` }];
    return [];
  });
  if (errors.length) throw new HttpProblem('unprocessable', 'the brief names an asset it cannot use', { errors });
}

/**
 * The same check in front of a route that parses the brief itself (POST /v1/estimates): a body
 * that is not a valid brief goes on untouched, for that route to refuse in its own words.
 */
export function briefAssetsOwned(assets: AssetStore, options: BriefOptions): RequestHandler {
  return async (req, _res, next) => {
    let brief: Brief;
    try {
      brief = parseBrief(req.body, options);
    } catch {
      return next();
    }
    try {
      await checkBriefAssets(assets, tenantOf(req), brief);
      next();
    } catch (err) {
      next(err);
    }
  };
}
