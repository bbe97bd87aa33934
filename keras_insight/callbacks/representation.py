"""Callbacks for what the network represents: projector embeddings, PCA/t-SNE pictures and
training dynamics, nearest neighbours, maximally activating patches, confusion matrices
and linear probes. Each is thin: a fixed probe set, a pure function, the shared writer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from keras_insight._config import logger
from keras_insight.callbacks.base import (
    RIGHT_COLOR,
    WRONG_COLOR,
    InsightCallback,
    is_endless,
    predicted_classes,
    stratified_indices,
    unpack_validation_data,
)
from keras_insight.callbacks.probe import probe_pass
from keras_insight.core.input_range import as_float32, resolve_input_range
from keras_insight.core.introspection import (
    default_feature_layer,
    layer_output_shapes,
    resolve_layer,
)
from keras_insight.dashboard.summary import write_confusion
from keras_insight.render.confusion import confusion_picture
from keras_insight.render.plots import class_name, scatter_figure
from keras_insight.representation import (
    confusion_from_labels,
    grid_layout,
    group_accuracy,
    linear_probe,
    max_activating_patches,
    nearest_neighbors,
    pca,
    per_class_accuracy,
    procrustes_align,
    tsne,
    write_projector,
)

__all__ = [
    "ConfusionMatrix",
    "EmbeddingPlot",
    "EmbeddingProjector",
    "LinearProbe",
    "MaxActivatingPatches",
    "NearestNeighbors",
]


def _images_uint8(x: np.ndarray, input_range: tuple[float, float] | None) -> np.ndarray:
    from keras_insight.render import to_uint8

    lo, hi = input_range if input_range is not None else (float(x.min()), float(x.max()) or 1.0)
    return to_uint8(x, lo, hi if hi > lo else lo + 1.0)


class _FeatureCallback(InsightCallback):
    """Shared: resolve the feature layer once, say when a 4-D map is pooled."""

    needs_layers = True

    def __init__(
        self,
        validation_data=None,
        log_dir="logs",
        *,
        layer=None,
        pool="avg",
        **kw,
    ):
        super().__init__(validation_data, log_dir, **kw)  # class_names: the base's
        self.layer = layer
        self.pool = pool
        self._layer = None

    def validate(self) -> None:
        m = self.model
        self._layer = (
            default_feature_layer(m) if self.layer is None else resolve_layer(m, self.layer)
        )
        shape = layer_output_shapes(m).get(id(self._layer), ())
        if len(shape) == 4:
            logger.info(
                "%s: layer %r has a 4-D output %s; its maps are %s-pooled to %d features.",
                self.family,
                self._layer.name,
                shape,
                self.pool,
                shape[-1] if self.pool in ("avg", "max") else int(np.prod(shape[1:])),
            )
        # features and predictions come from the suite's one forward pass (callbacks/probe.py)
        probe_pass(m).register(self, self.probe_x, features=(self._layer, self.pool))

    def _features_and_pred(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        out = probe_pass(self.model).outputs(self, step)
        return out.features, predicted_classes(out.logits)


class EmbeddingProjector(_FeatureCallback):
    """TensorBoard Projector embeddings of the probe set's features, one tensor per epoch.

    Writes ``<log_dir>/insight/projector_config.pbtxt`` with a new tensor
    ``embedding_<layer>/epoch_<e>`` each logged epoch, metadata (label, predicted, correct)
    and a thumbnail sprite, and advances a tiny checkpoint so an already open TensorBoard
    shows the new epoch (Keras 3's own ``embeddings_freq`` export cannot be served).

    Args:
        validation_data: ``(x, y)`` arrays or a ``tf.data.Dataset``; labels are optional.
        log_dir: run directory (shared with the other callbacks). Default "logs".
        layer: feature layer (name, index or object). Default: the layer feeding the
            classifier; 4-D maps are pooled (``pool``, default "avg").
        sprite: write image thumbnails. Default True (skipped for non-image inputs).
        thumb_size: sprite tile size in pixels. Default: image size, at most 64.
        class_names: optional names shown instead of class ids.
        num_samples: probe set size. Default 1024. Plus ``freq``, ``at_train_end``,
            ``seed``, ``strict``, ``input_range`` as in every callback.

    Example:
        >>> import numpy as np
        >>> from keras_insight.testing import small_cnn
        >>> x, y = np.random.rand(32, 16, 16, 3).astype("float32"), np.arange(32) % 4
        >>> m = small_cnn(); m.compile("adam", "sparse_categorical_crossentropy")
        >>> import tempfile; d = tempfile.mkdtemp()
        >>> _ = m.fit(x, y, epochs=1, verbose=0, callbacks=[EmbeddingProjector((x, y), d)])
    """

    def __init__(
        self,
        validation_data=None,
        log_dir="logs",
        *,
        layer=None,
        pool="avg",
        sprite: bool = True,
        thumb_size: int | None = None,
        class_names=None,
        num_samples: int = 1024,
        **kw,
    ):
        super().__init__(
            validation_data,
            log_dir,
            layer=layer,
            pool=pool,
            class_names=class_names,
            num_samples=num_samples,
            **kw,
        )
        self.sprite = sprite
        self.thumb_size = thumb_size
        self.tensor_names: list[str] = []

    def log(self, step: int) -> None:
        if not self.writer.chief:
            return
        feats, pred = self._features_and_pred(step)
        names = self.class_names
        meta: dict[str, Any] = {}
        if self.probe_y is not None:
            meta["label"] = [class_name(int(c), names) for c in self.probe_y]
        meta["predicted"] = [class_name(int(c), names) for c in pred]
        if self.probe_y is not None:
            meta["correct"] = pred == self.probe_y
        name = write_projector(
            self.log_dir,
            feats,
            metadata=meta,
            images=self.probe_x if self.sprite else None,
            name=f"embedding_{self._layer.name}",
            tag=f"epoch_{step:04d}",
            thumb_size=self.thumb_size,
            input_range=self.input_range,
            seed=self.seed,
            run=self.run_name or "insight",
        )
        self.tensor_names.append(name)


class EmbeddingPlot(_FeatureCallback):
    """PCA and t-SNE scatter plots of the probe features, a t-SNE thumbnail grid, and the
    training dynamics (Procrustes-aligned PCA over epochs, axes fixed at the first epoch).

    Tags: ``embedding/pca``, ``embedding/tsne``, ``embedding/tsne_grid``,
    ``embedding/dynamics``, scalar ``embedding/pca_explained_variance``.

    Args:
        validation_data, log_dir, layer, pool, class_names: as :class:`EmbeddingProjector`.
        use_tsne: draw the t-SNE scatter and grid (costs ~1 s per 500 points). Default True.
        grid_size: side of the t-SNE thumbnail grid (grid_size^2 images). Default 12.
        perplexity: t-SNE perplexity. Default 30.
        num_samples: probe set size. Default 512.

    Example:
        >>> cb = EmbeddingPlot((x, y), "logs", freq=2)  # doctest: +SKIP
    """

    def __init__(
        self,
        validation_data=None,
        log_dir="logs",
        *,
        layer=None,
        pool="avg",
        use_tsne: bool = True,
        grid_size: int = 12,
        perplexity: float = 30.0,
        class_names=None,
        num_samples: int = 512,
        **kw,
    ):
        super().__init__(
            validation_data,
            log_dir,
            layer=layer,
            pool=pool,
            class_names=class_names,
            num_samples=num_samples,
            **kw,
        )
        self.use_tsne = use_tsne
        self.grid_size = int(grid_size)
        self.perplexity = perplexity
        self.history: list[tuple[int, np.ndarray]] = []
        self._lims = None

    def on_train_begin(self, logs=None) -> None:
        super().on_train_begin(logs)
        self.history, self._lims = [], None

    def log(self, step: int) -> None:
        from keras_insight.render import grid

        feats, pred = self._features_and_pred(step)
        labels = self.probe_y if self.probe_y is not None else pred
        n_comp = min(2, *feats.shape)
        coords, _, evr = pca(feats, n_components=n_comp)
        if n_comp < 2:
            coords = np.concatenate([coords, np.zeros_like(coords)], 1)
        self.writer.scalar("embedding/pca_explained_variance", float(evr.sum()), step)
        self.writer.figure(
            "embedding/pca",
            scatter_figure(coords, labels, f"PCA, epoch {step}", names=self.class_names),
            step,
        )

        # dynamics: align to the previous epoch; axes fixed at the first logged epoch
        aligned = coords if not self.history else procrustes_align(coords, self.history[-1][1])
        self.history.append((step, aligned))
        if self._lims is None:
            lo, hi = aligned.min(0), aligned.max(0)
            pad = 0.15 * np.maximum(hi - lo, 1e-6)
            self._lims = ((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))
        fig = scatter_figure(
            aligned, labels, f"aligned PCA, epoch {step}", lims=self._lims, names=self.class_names
        )
        if len(self.history) > 1:
            ax = fig.axes[0]
            traj = np.stack([c for _, c in self.history[-5:]], 1)  # (N, T, 2): the last epochs
            for t in traj[:: max(1, len(traj) // 64)]:
                ax.plot(t[:, 0], t[:, 1], color="0.6", lw=0.5, zorder=0)
        self.writer.figure("embedding/dynamics", fig, step)

        if self.use_tsne and len(feats) >= 8:
            emb = tsne(feats, perplexity=self.perplexity, seed=self.seed, max_iter=500)
            self.writer.figure(
                "embedding/tsne",
                scatter_figure(emb, labels, f"t-SNE, epoch {step}", names=self.class_names),
                step,
            )
            m = min(self.grid_size**2, len(emb))
            side = int(np.ceil(np.sqrt(m)))
            sel = np.random.default_rng(self.seed).choice(len(emb), m, replace=False)
            cell = grid_layout(emb[sel], ncols=side)
            imgs = _images_uint8(self.probe_x[sel], self.input_range)
            tiles = np.full((side * side, *imgs.shape[1:]), 255, np.uint8)
            tiles[cell] = imgs
            self.writer.image("embedding/tsne_grid", grid(tiles, ncols=side, pad=0), step)


def drop_self_matches(idx: np.ndarray, self_rows: np.ndarray, k: int) -> np.ndarray:
    """From ``(N, k')`` neighbour indices, drop each query's own gallery row (``-1``: none)
    and keep the first ``k``.

    Example:
        >>> drop_self_matches(np.array([[4, 1, 2], [0, 3, 5]]), np.array([4, -1]), 2).tolist()
        [[1, 2], [0, 3]]
    """
    return np.stack([row[row != own][:k] for row, own in zip(idx, self_rows)])


class NearestNeighbors(_FeatureCallback):
    """For each query image (a row, first column): its k nearest gallery images in the
    layer's feature space, tag ``neighbors/<layer>``, and in pixel space, tag
    ``neighbors/<layer>/pixels``. Each neighbour is labelled with its class, green when it
    is the query's class, red when not (two pictures of k + 1 columns read at
    TensorBoard's card size where one of 2k + 1 did not).

    Pixel-space neighbours are computed once; feature neighbours every logged epoch, so the
    two pictures show how learned similarity moves away from raw pixel similarity. A query never
    shows itself as its own neighbour: when the gallery is the validation data (the same
    object) its own row is excluded by index, otherwise any gallery image pixel-identical
    to the query is.

    Args:
        validation_data: query images ``x`` or ``(x, y)`` (the probe set is drawn from it).
        gallery: gallery ``x`` or ``(x, y)`` arrays.
        log_dir: run directory. k: neighbours per side (default 5; a gallery of fewer
            than k images shrinks it to the gallery size, with a note). num_samples:
            queries (default 8). layer, pool, class_names: as :class:`EmbeddingProjector`.

    The gallery is read at train begin by the same bounded reader as the probe set
    (``max_scan``, duplicates dropped), so an endless dataset is fine for both.

    Example:
        >>> cb = NearestNeighbors((x_val, y_val), (x_train[:2000], y_train[:2000]), "logs")  # doctest: +SKIP
    """

    def __init__(
        self,
        validation_data=None,
        gallery=None,
        log_dir="logs",
        *,
        k: int = 5,
        num_samples: int = 8,
        **kw,
    ):
        super().__init__(validation_data, log_dir, num_samples=num_samples, **kw)
        if gallery is None:
            raise ValueError(
                "NearestNeighbors needs a gallery: pass gallery=(x, y) arrays to search in."
            )
        if int(k) < 1:
            raise ValueError(f"k must be >= 1 neighbours, got {k!r}.")
        self.gallery = gallery
        self.gallery_x: np.ndarray | None = None
        self.gallery_y: np.ndarray | None = None
        self.k_requested = int(k)
        self.k = int(k)
        self.pixel_neighbors: np.ndarray | None = None  # (queries, k) gallery rows, pixel space

    def _read_probe(self) -> None:
        super()._read_probe()
        gx, gy, _ = unpack_validation_data(
            self.gallery, limit=self.max_scan, what=f"{self.family} gallery"
        )
        self.gallery_x = as_float32(gx, name="gallery images")
        self.gallery_y = gy
        # the probe's own rows when the gallery is the validation data: excluded by index
        self._self_rows = None
        if self.gallery is self.validation_data:
            self._self_rows = stratified_indices(gy, len(gx), self.num_samples, self.seed)
        self.k = min(self.k_requested, max(1, len(self.gallery_x) - 1))
        if self.k < self.k_requested:
            logger.info(
                "NearestNeighbors: the gallery has %d images, fewer than k=%d; showing k=%d.",
                len(self.gallery_x),
                self.k_requested,
                self.k,
            )

    def validate(self) -> None:
        super().validate()
        # found at the first log, so a run whose overhead budget never grants this view
        # does not pay for the pixel-space search (~0.3 s on 8 x 10,000 28x28 images)
        self.pixel_neighbors = None
        pool = (self._layer, self.pool)
        probe_pass(self.model).register(self, self.gallery_x, features=pool, name="gallery")

    def _find_pixel_neighbors(self) -> None:
        kk = min(self.k + 1, len(self.gallery_x))
        pixel_idx, _ = nearest_neighbors(self.probe_x, self.gallery_x, k=kk)
        if self._self_rows is None:  # exclude pixel-identical copies of the query
            # compared exactly: the distance of a copy is not exactly 0 in float arithmetic
            first = self.gallery_x[pixel_idx[:, 0]]
            same = (first == self.probe_x).reshape(len(first), -1).all(axis=1)
            self._self_rows = np.where(same, pixel_idx[:, 0], -1)
        self.pixel_neighbors = drop_self_matches(pixel_idx, self._self_rows, self.k)

    def log(self, step: int) -> None:
        from keras_insight.render import grid_pages

        if self.pixel_neighbors is None:
            self._find_pixel_neighbors()
        q_feat = probe_pass(self.model).outputs(self, step).features
        g_feat = probe_pass(self.model).outputs(self, step, name="gallery").features
        feat_idx, _ = nearest_neighbors(q_feat, g_feat, k=min(self.k + 1, len(g_feat)))
        feat_idx = drop_self_matches(feat_idx, self._self_rows, self.k)
        q_img = _images_uint8(self.probe_x, self.input_range)
        rows = np.concatenate([feat_idx, self.pixel_neighbors], axis=1)  # (Nq, 2k) gallery rows
        # convert only the shown gallery images, not the whole gallery, each time
        g_img = _images_uint8(self.gallery_x[rows.ravel()], self.input_range)
        g_img = g_img.reshape(rows.shape + g_img.shape[1:])
        black = (0, 0, 0)
        name = self._layer.name
        spaces = {name: slice(0, self.k), f"{name}/pixels": slice(self.k, None)}
        for tag, cols in spaces.items():
            tiles, labels, colors = [], [], []
            for i in range(len(self.probe_x)):
                tiles += [q_img[i], *g_img[i, cols]]
                labels.append(f"query {self.label_text(i, names=self.class_names)}".strip())
                colors.append(black)
                for j in rows[i, cols]:
                    c = None if self.gallery_y is None else int(self.gallery_y[j])
                    labels.append("" if c is None else class_name(c, self.class_names))
                    if c is None or self.probe_y is None:
                        colors.append(black)
                    else:
                        colors.append(RIGHT_COLOR if c == int(self.probe_y[i]) else WRONG_COLOR)
            # pages of a few queries (samples of one tag) that read in the Time Series box
            picture = grid_pages(
                np.stack(tiles), ncols=1 + self.k, labels=labels, label_colors=colors
            )
            self.writer.image(f"neighbors/{tag}", picture, step)


class MaxActivatingPatches(InsightCallback):
    """Per chosen channel of ``layer``, the top-k receptive-field patches over a data set,
    one row per channel, beside their guided-backprop projections. Tag
    ``patches/<layer>`` (and ``patches/<layer>/guided_backprop``).

    Streams ``validation_data`` (array or ``tf.data.Dataset``) with bounded memory.
    Expensive: by default every 5 epochs and at the end of training.

    Args:
        validation_data: the data set to search (the training set works too): images
            ``x``, ``(x, ...)``, or a ``tf.data.Dataset`` of batches.
        layer: a layer with a 4-D output.
        channels: channel ids; default the first ``max_channels``.
        log_dir: run directory. k: patches per channel (default 9). max_channels: 16.
        guided: add the guided-backprop projection (needs ``keras_insight.attribution``).
        batch_size: streaming batch size (default 256). freq: default 5.

    Example:
        >>> cb = MaxActivatingPatches(x_train, "conv2", [0, 1, 2], "logs", freq=5)  # doctest: +SKIP
    """

    requires_data = False
    needs_layers = True

    def __init__(
        self,
        validation_data=None,
        layer=None,
        channels: Sequence[int] | None = None,
        log_dir="logs",
        *,
        k: int = 9,
        max_channels: int = 16,
        guided: bool = True,
        batch_size: int = 256,
        freq: int = 5,
        **kw,
    ):
        super().__init__(None, log_dir, freq=freq, **kw)
        data = validation_data  # searched in full each log, not a probe set: not the base's
        if data is None or layer is None:
            raise ValueError(
                "MaxActivatingPatches needs data to search and a layer with a 4-D output."
            )
        self.data = data
        self.layer = layer
        self.channels = None if channels is None else [int(c) for c in channels]
        self.k, self.max_channels, self.guided, self.batch_size = (
            int(k),
            int(max_channels),
            guided,
            int(batch_size),
        )
        self.result = None
        self._search = data

    def _read_probe(self) -> None:
        super()._read_probe()
        # arrays and finite datasets are streamed each log; an endless one (ds.repeat())
        # is read once through the bounded reader (max_scan, duplicates dropped)
        self._search = self.data
        if hasattr(self.data, "as_numpy_iterator") and is_endless(self.data):
            x, _, _ = unpack_validation_data(self.data, limit=self.max_scan, what="data")
            self._search = x

    def validate(self) -> None:
        from keras_insight.core.introspection import require_spatial

        self._layer = resolve_layer(self.model, self.layer)
        require_spatial(self.model, self._layer)
        n_ch = int(layer_output_shapes(self.model)[id(self._layer)][-1])
        if self.channels is None:
            self.channels = list(range(min(n_ch, self.max_channels)))
        bad = [c for c in self.channels if not 0 <= c < n_ch]
        if bad:
            raise ValueError(
                f"channels {bad} out of range for layer {self._layer.name!r} with {n_ch} channels."
            )
        if self.input_range is None:
            first = (
                self.data[: min(len(self.data), 1024)]
                if hasattr(self.data, "__len__") and hasattr(self.data, "shape")
                else None
            )
            self.input_range = (
                resolve_input_range(None, first, what=self.family) if first is not None else None
            )

    def log(self, step: int) -> None:
        from keras_insight.render import grid_pages, normalize_symmetric
        from keras_insight.render.grids import MIN_TILE

        res = max_activating_patches(
            self.model, self._search, self._layer, self.channels, k=self.k, batch_size=self.batch_size
        )
        self.result = res
        nc, k = res.values.shape
        patches = res.patches.reshape(nc * k, *res.patches.shape[2:])
        if self.input_range is None:
            self.input_range = (float(patches.min()), float(patches.max()))
        labels = [f"c{c} {v:.2g}" for c, row in zip(res.channels, res.values) for v in row]
        self.writer.image(
            f"patches/{self._layer.name}",
            grid_pages(_images_uint8(patches, self.input_range), ncols=k, labels=labels),
            step,
        )
        if self.guided:
            try:
                from keras_insight.representation.receptive import unit_projections

                proj = unit_projections(self.model, res, self._layer)
            except ImportError:
                logger.info(
                    "MaxActivatingPatches: keras_insight.attribution unavailable; no guided backprop."
                )
                self.guided = False
                return
            proj = proj.reshape(nc * k, *proj.shape[2:])
            self.writer.image(
                f"patches/{self._layer.name}/guided_backprop",
                # unlabelled: tiles enlarged (nearest) to MIN_TILE px like the patches above
                grid_pages(
                    normalize_symmetric(proj, per_image=True),
                    ncols=k,
                    scale=max(1, -(-MIN_TILE // proj.shape[2])),
                ),
                step,
            )


class ConfusionMatrix(InsightCallback):
    """The confusion matrix as an image, accuracy and per-class accuracy as scalars, and
    per-group accuracy when group labels are given (a model right on average can fail one
    population: the geographic-bias lesson).

    Tags: ``confusion/matrix``, ``confusion/accuracy``, ``confusion/acc_class_<c>``,
    ``confusion/acc_group_<g>``, ``confusion/worst_group_acc``.

    Args:
        validation_data: ``(x, y)`` or ``(x, y, groups)`` arrays or a dataset; labels needed.
        log_dir: run directory.
        groups: group labels aligned with ``validation_data``'s samples, or an int ``i`` to
            use the i-th extra array of the tuple (``0`` for ``(x, y, groups)``). Default None.
        class_names: optional names. num_samples: default 4096 (all of a small set).

    Example:
        >>> cb = ConfusionMatrix((x_val, y_val, region), "logs", groups=0)  # doctest: +SKIP
    """

    needs_classes = True

    def __init__(
        self,
        validation_data=None,
        log_dir="logs",
        *,
        groups=None,
        class_names=None,
        num_samples: int = 4096,
        **kw,
    ):
        super().__init__(validation_data, log_dir, num_samples=num_samples, **kw)
        self.groups = groups
        self.class_names = list(class_names) if class_names is not None else None
        self._groups = None
        self.matrix: np.ndarray | None = None

    def validate(self) -> None:
        if self.probe_y is None:
            raise ValueError("ConfusionMatrix needs labels: pass validation_data=(x, y).")
        g = self.groups
        if g is None:
            self._groups = None
        elif isinstance(g, (int, np.integer)) and not isinstance(g, bool):
            if g >= len(self.probe_extra):
                raise ValueError(
                    f"groups={g} but validation_data has {len(self.probe_extra)} extra arrays after (x, y)."
                )
            self._groups = np.asarray(self.probe_extra[g]).reshape(len(self.probe_x), -1)[:, 0]
        else:
            x, y, _, kept = unpack_validation_data(
                self.validation_data, limit=self.max_scan, return_index=True
            )
            g = np.asarray(g).reshape(-1)
            if len(g) <= kept.max():
                raise ValueError(f"groups has {len(g)} entries for {kept.max() + 1} validation samples.")
            g = g[kept]  # the rows the reader kept (duplicates dropped)
            self._groups = g[stratified_indices(y, len(x), self.num_samples, self.seed)]
        probe_pass(self.model).register(self, self.probe_x)  # the suite's one forward pass

    def log(self, step: int) -> None:
        lg = probe_pass(self.model).outputs(self, step).logits
        pred = predicted_classes(lg)
        k = max(lg.shape[-1], 2, int(self.probe_y.max()) + 1)
        cm = confusion_from_labels(self.probe_y, pred, k)
        self.matrix = cm
        acc, counts = per_class_accuracy(cm)
        self.writer.scalar("confusion/accuracy", float(np.trace(cm) / cm.sum()), step)
        for c in np.flatnonzero(counts):
            self.writer.scalar(f"confusion/acc_class_{c}", float(acc[c]), step)
        if self._groups is not None:
            by_group = group_accuracy(self.probe_y, pred, self._groups)
            for gname, a in by_group.items():
                self.writer.scalar(f"confusion/acc_group_{gname}", a, step)
            self.writer.scalar("confusion/worst_group_acc", min(by_group.values()), step)
        # drawn with Pillow: a matplotlib figure cost 0.18 CPU s per log (issue 13)
        names = [class_name(i, self.class_names) for i in range(len(cm))]
        picture = confusion_picture(cm, names, title=f"confusion, epoch {step}")
        self.writer.image("confusion/matrix", picture, step)
        write_confusion(self.writer, cm, step)  # the Insight dashboard's class view


class LinearProbe(InsightCallback):
    """Held-out linear-probe accuracy of each layer's pooled features (logistic
    regression): how linearly decodable, i.e. generic or task-specific, each layer is.
    Scalars ``linear_probe/<layer>``.

    Args:
        validation_data: ``(x, y)``; the probe set is split 70/30 (seeded).
        log_dir: run directory. layers: default every spatial layer plus the feature layer.
        num_samples: default 1024. freq: default 5.

    Example:
        >>> cb = LinearProbe((x_val, y_val), "logs", layers=["conv1", "conv2"])  # doctest: +SKIP
    """

    needs_layers = True
    needs_classes = True

    def __init__(
        self,
        validation_data=None,
        log_dir="logs",
        *,
        layers=None,
        num_samples: int = 1024,
        freq: int = 5,
        **kw,
    ):
        super().__init__(validation_data, log_dir, num_samples=num_samples, freq=freq, **kw)
        self.layers = layers
        self.accuracy: dict[str, float] = {}

    def validate(self) -> None:
        if self.probe_y is None:
            raise ValueError("LinearProbe needs labels: pass validation_data=(x, y).")
        if self.layers is not None:
            for spec in self.layers:
                resolve_layer(self.model, spec)

    def log(self, step: int) -> None:
        self.accuracy = linear_probe(
            self.model, self.probe_x, self.probe_y, self.layers, seed=self.seed
        )
        for name, acc in self.accuracy.items():
            self.writer.scalar(f"linear_probe/{name}", acc, step)
