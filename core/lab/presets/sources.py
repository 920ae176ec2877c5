"""The source documents as a reader knows them (authors, title, year, link where one exists)."""

AGARAP_2019 = ('A. F. Agarap, "Avoiding the vanishing gradients problem by adding random noise and '
               'batch normalization", 2019 (https://github.com/afagarap/vanishing-gradients)')
VGG_REPORT = ('"Analysis of Vanishing Gradient Problem", a coursework report on VGG08/VGG38 with '
              'batch norm and residual connections on CIFAR-100 (its authors are not named in it)')
RANA_2023 = ('A. Rana, "Training DNN: Vanishing Gradient Problem", IT496 Introduction to Data Mining, '
             'lectures 27-28, 2023 (after lecture notes by D. Bridge, University College Cork)')
QUIJAS_2020 = ('J. Quijas, "Solving the Vanishing Gradient Problem with Self-Normalizing Neural '
               'Networks using Keras", Towards AI, 2020')
KAKUJO_2022 = 'R. Kakujo, "Vanishing Gradient Problem" (blog post with PyTorch code), 2022'
GLOROT_2010 = ('X. Glorot and Y. Bengio, "Understanding the difficulty of training deep feedforward '
               'neural networks", AISTATS 2010 (https://proceedings.mlr.press/v9/glorot10a.html), '
               'as recounted by Rana (2023) and Quijas (2020)')
