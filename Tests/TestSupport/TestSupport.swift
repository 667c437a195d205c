import Chunker
