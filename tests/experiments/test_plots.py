"""Image grids: the sample and triplet images the GAN and translate tasks log."""

import numpy as np

from experiments.report.plots import image_grid


def test_image_grid_tiles_row_by_row_with_white_padding():
    images = np.stack([np.full((2, 3, 1), value) for value in (0.0, 0.5, 1.0)])
    grid = image_grid(images, columns=2, padding=1)
    # Two rows of two 2x3 cells, the last cell left white.
    assert grid.shape == (1 + 2 * 3, 1 + 2 * 4) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[1:3, 1:4], 0)
    np.testing.assert_array_equal(grid[1:3, 5:8], 128)
    np.testing.assert_array_equal(grid[4:6, 1:4], 255)
    np.testing.assert_array_equal(grid[4:6, 5:8], 255)
    assert (grid[0] == 255).all() and (grid[:, 4] == 255).all()


def test_image_grid_clips_to_the_unit_range():
    grid = image_grid(np.array([[[-1.0, 2.0]]]), columns=1, padding=0)
    np.testing.assert_array_equal(grid, [[0, 255]])
