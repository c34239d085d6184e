"""MARSGAN super-resolution training (paper 002 §2.2-2.4): data, losses, discriminator, loop.

python -m marsspec train --config training/configs/marsgan-psnr.yaml   # stage 1 (L1)
python -m marsspec train --config training/configs/marsgan-gan.yaml    # stage 2 (RaGAN)
"""
